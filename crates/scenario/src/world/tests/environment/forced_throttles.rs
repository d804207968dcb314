//! `forced_throttles` of `[environments.<key>]`: each field and default on its way into
//! `fake_dataverse::Config::forced_throttles` (on the environment's host, the app's client id),
//! and the exact text of every error (path, line, column, dotted key).

use fake_dataverse::{ForcedThrottle, ThrottleLimit};

use super::*;

/// The base environment with the importer's application user on line 23, then `throttles`
/// on line 24.
fn with_throttles(throttles: &str) -> String {
    with_environment(&format!(
        "application_users = [{{ app = \"importer\" }}]\nforced_throttles = {throttles}\n"
    ))
}

#[test]
fn forced_throttles_reach_the_config() {
    let importer = |limit, nth, times, retry_after_seconds| EnvironmentThrottle {
        limit,
        app: Some("importer".to_owned()),
        nth,
        times,
        retry_after_seconds,
    };
    let cases: Vec<(&str, Vec<EnvironmentThrottle>)> = vec![
        ("[]", vec![]),
        (
            "[{ limit = \"requests\" }]",
            vec![EnvironmentThrottle {
                limit: ThrottleLimit::Requests,
                app: None,
                nth: None,
                times: None,
                retry_after_seconds: 30,
            }],
        ),
        (
            "[{ limit = \"execution_time\", app = \"importer\", nth = 2, times = 1, \
             retry_after_seconds = 7 }]",
            vec![importer(ThrottleLimit::ExecutionTime, Some(2), Some(1), 7)],
        ),
        (
            "[{ limit = \"concurrency\", app = \"importer\", retry_after_seconds = 1 }, \
             { limit = \"requests\", app = \"importer\", times = 3 }]",
            vec![
                importer(ThrottleLimit::Concurrency, None, None, 1),
                importer(ThrottleLimit::Requests, None, Some(3), 30),
            ],
        ),
    ];
    for (throttles, expected) in cases {
        let text = with_throttles(throttles);
        let world = parse(&text);
        assert_eq!(
            world.environments()[0].forced_throttles,
            expected,
            "{throttles}"
        );
        let translated: Vec<ForcedThrottle> = expected
            .iter()
            .map(|throttle| ForcedThrottle {
                limit: throttle.limit,
                host: Some("contoso.crm.dynamics.com".to_owned()),
                application_id: throttle.app.as_ref().map(|_| IMPORTER),
                nth: throttle.nth,
                times: throttle.times,
                retry_after_seconds: throttle.retry_after_seconds,
            })
            .collect();
        assert_eq!(
            dataverse_config(&text).forced_throttles,
            translated,
            "{throttles}"
        );
    }
    let without = parse(&with_environment(""));
    assert!(without.environments()[0].forced_throttles.is_empty());
}

#[test]
fn each_environment_throttles_its_own_host() {
    let text = with_environment(
        "forced_throttles = [{ limit = \"requests\", nth = 1 }]\n\n\
         [environments.emea]\nurl = \"https://contoso-emea.api.crm4.dynamics.com\"\n\
         tenant = \"contoso\"\n\
         forced_throttles = [{ limit = \"concurrency\" }, { limit = \"execution_time\" }]\n",
    );
    let hosts: Vec<(ThrottleLimit, Option<String>)> = dataverse_config(&text)
        .forced_throttles
        .into_iter()
        .map(|throttle| (throttle.limit, throttle.host))
        .collect();
    assert_eq!(
        hosts,
        [
            (
                ThrottleLimit::Requests,
                Some("contoso.crm.dynamics.com".to_owned())
            ),
            (
                ThrottleLimit::Concurrency,
                Some("contoso-emea.crm4.dynamics.com".to_owned())
            ),
            (
                ThrottleLimit::ExecutionTime,
                Some("contoso-emea.crm4.dynamics.com".to_owned())
            ),
        ],
        "file order; the web host, which the fake also matches on the `.api.` host"
    );
}

#[test]
fn forced_throttle_errors_name_the_key_line_and_column() {
    let cases: Vec<(String, &str)> = vec![
        // Shapes, from the parser.
        (
            with_throttles("[{ limit = \"request\" }]"),
            "failed to parse world `worlds/test.toml` at line 24, column 31: unknown variant \
             `request`, expected one of `requests`, `execution_time`, `concurrency`",
        ),
        (
            with_throttles("[{ app = \"importer\" }]"),
            "failed to parse world `worlds/test.toml` at line 24, column 21: missing field \
             `limit`",
        ),
        (
            with_throttles("[{ limit = \"requests\", client_id = \"x\" }]"),
            "failed to parse world `worlds/test.toml` at line 24, column 43: unknown field \
             `client_id`, expected one of `limit`, `app`, `nth`, `times`, \
             `retry_after_seconds`",
        ),
        (
            with_throttles("[{ limit = \"requests\", nth = \"2\" }]"),
            "failed to parse world `worlds/test.toml` at line 24, column 49: invalid type: \
             string \"2\", expected i64",
        ),
        (
            with_throttles("{ limit = \"requests\" }"),
            "failed to parse world `worlds/test.toml` at line 24, column 20: invalid type: map, \
             expected a sequence",
        ),
        // Values.
        (
            with_throttles("[{ limit = \"requests\", app = \"importr\" }]"),
            "invalid world `worlds/test.toml` at line 24, column 49: \
             `environments.contoso.forced_throttles[0].app`: unknown app `importr`; known: \
             importer",
        ),
        (
            with_environment("forced_throttles = [{ limit = \"requests\", app = \"importer\" }]\n"),
            "invalid world `worlds/test.toml` at line 23, column 49: \
             `environments.contoso.forced_throttles[0].app`: app `importer` has no application \
             user in this environment, so the throttle could never fire; add one to \
             `application_users`",
        ),
        (
            with_throttles("[{ limit = \"requests\" }, { limit = \"requests\", nth = 0 }]"),
            "invalid world `worlds/test.toml` at line 24, column 73: \
             `environments.contoso.forced_throttles[1].nth`: must be at least 1, not `0`",
        ),
        (
            with_throttles("[{ limit = \"requests\", times = -1 }]"),
            "invalid world `worlds/test.toml` at line 24, column 51: \
             `environments.contoso.forced_throttles[0].times`: must be at least 1, not `-1`",
        ),
        (
            with_throttles("[{ limit = \"requests\", retry_after_seconds = 0 }]"),
            "invalid world `worlds/test.toml` at line 24, column 65: \
             `environments.contoso.forced_throttles[0].retry_after_seconds`: must be at least \
             1, not `0`",
        ),
    ];
    let mismatches: Vec<String> = cases
        .iter()
        .filter_map(|(text, expected)| {
            let actual = match World::parse(text, "worlds/test.toml") {
                Ok(_) => "no error".to_owned(),
                Err(error) => chain(&error),
            };
            (actual != *expected).then(|| {
                let input = text.lines().skip(22).collect::<Vec<_>>().join("\n");
                format!("--- input from line 23 ---\n{input}\n  expected: {expected}\n  actual:   {actual}")
            })
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}
