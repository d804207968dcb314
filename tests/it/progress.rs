//! The connection check's progress events (`d365_source::Progress`) against both fakes: their
//! order and labels, where a failure ends them, and that retries stay inside their step. Time is
//! the fakes' manual clock, so every elapsed time is exact: only a `Retry-After` wait moves it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use d365_source::{AddOutcome, CheckEvent, CheckEventKind, Step};
use fake_core::{FaultAction, FaultRule};

use crate::source::{CURRENT_SECRET, Harness, IMPORTER, TENANT, form};

/// Each event as `label kind elapsed-ms` (`-` before the step ended).
fn lines(events: &[CheckEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| {
            let elapsed = event
                .kind
                .elapsed()
                .map_or("-".to_owned(), |elapsed| elapsed.as_millis().to_string());
            format!("{} {} {elapsed}", event.label, event.kind.as_str())
        })
        .collect()
}

/// Adds the Contoso source reading `tables`, collecting the check's events.
async fn add_observed(harness: &Harness, tables: &[&str]) -> (AddOutcome, Vec<CheckEvent>) {
    let events = Mutex::new(Vec::new());
    let outcome = harness
        .flow(tables)
        .add_with_progress(
            &form(CONTOSO_URL, TENANT, IMPORTER, CURRENT_SECRET),
            &harness.store(),
            &events,
        )
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    (
        outcome,
        events.into_inner().expect("no panic while collecting"),
    )
}

const CONTOSO_URL: &str = "https://contoso.crm.dynamics.com";

fn respond(name: &str, path: &str, status: u16, headers: &[(&str, &str)], body: &str) -> FaultRule {
    FaultRule {
        name: Some(name.to_owned()),
        service: Some("dataverse".to_owned()),
        host: None,
        method: Some("GET".to_owned()),
        path: Some(path.to_owned()),
        nth: Some(1),
        from: None,
        times: None,
        action: FaultAction::Respond {
            status,
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            body: body.to_owned(),
        },
    }
}

#[tokio::test]
async fn a_passing_check_reports_each_step_in_order_with_one_read_per_table() {
    let harness = Harness::start().await;
    let (outcome, events) = add_observed(&harness, &["Accounts", "contact"]).await;
    assert!(
        matches!(outcome, AddOutcome::Added { .. }),
        "expected the source to be added, got {outcome:?}"
    );
    assert_eq!(
        lines(&events),
        [
            "Token started -",
            "Token passed 0",
            "WhoAmI started -",
            "WhoAmI passed 0",
            "Organization started -",
            "Organization passed 0",
            "Privileges started -",
            "Privileges passed 0",
            "Read account started -",
            "Read account passed 0",
            "Read contact started -",
            "Read contact passed 0",
        ]
    );
    let steps: Vec<Step> = events.iter().map(|event| event.step).collect();
    assert_eq!(
        steps,
        [
            Step::Token,
            Step::Token,
            Step::WhoAmI,
            Step::WhoAmI,
            Step::Organization,
            Step::Organization,
            Step::Privileges,
            Step::Privileges,
            Step::TableRead,
            Step::TableRead,
            Step::TableRead,
            Step::TableRead,
        ]
    );
}

#[tokio::test]
async fn a_failure_at_the_privileges_step_ends_the_events_with_that_step_failed() {
    let harness = Harness::start().await;
    harness.server.faults().add(respond(
        "privileges refused",
        "/api/data/*/systemusers(*)/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()",
        403,
        &[("Content-Type", "application/json; odata.metadata=minimal")],
        r#"{"error":{"code":"0x80040220","message":"Principal user is missing prvReadUser privilege."}}"#,
    ));
    let (outcome, events) = add_observed(&harness, &["account"]).await;
    let AddOutcome::Failed { problem, .. } = outcome else {
        panic!("expected a failed check, got {outcome:?}");
    };
    assert_eq!(problem.evidence.step, Step::Privileges);
    assert_eq!(
        lines(&events),
        [
            "Token started -",
            "Token passed 0",
            "WhoAmI started -",
            "WhoAmI passed 0",
            "Organization started -",
            "Organization passed 0",
            "Privileges started -",
            "Privileges failed 0",
        ]
    );
}

#[tokio::test]
async fn a_throttled_step_is_one_started_and_passed_pair_timed_with_its_wait() {
    let harness = Harness::start().await;
    harness.server.faults().add(respond(
        "WhoAmI throttled",
        "/api/data/*/WhoAmI",
        429,
        &[
            ("Retry-After", "3"),
            ("Content-Type", "application/json; odata.metadata=minimal"),
        ],
        r#"{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}"#,
    ));
    let (outcome, events) = add_observed(&harness, &["account"]).await;
    assert!(
        matches!(outcome, AddOutcome::Added { .. }),
        "expected the source to be added after the wait, got {outcome:?}"
    );
    assert_eq!(harness.timer.waits(), [Duration::from_secs(3)]);
    assert_eq!(
        lines(&events),
        [
            "Token started -",
            "Token passed 0",
            "WhoAmI started -",
            "WhoAmI passed 3000",
            "Organization started -",
            "Organization passed 0",
            "Privileges started -",
            "Privileges passed 0",
            "Read account started -",
            "Read account passed 0",
        ]
    );
}

#[tokio::test]
async fn denied_tables_fail_their_own_reads_and_the_others_still_pass() {
    let harness = Harness::start().await;
    harness.server.faults().add(respond(
        "accounts denied",
        "/api/data/*/accounts",
        403,
        &[("Content-Type", "application/json; odata.metadata=minimal")],
        r#"{"error":{"code":"0x80040220","message":"Principal user (Id=1, type=8), is missing prvReadAccount privilege (Id=2) on OTC=1 for entity 'account' (LocalizedName='Account'). context.Caller=1."}}"#,
    ));
    let (outcome, events) = add_observed(&harness, &["account", "contact"]).await;
    assert!(
        matches!(outcome, AddOutcome::Failed { .. }),
        "expected a failed check, got {outcome:?}"
    );
    assert_eq!(
        lines(&events)[8..],
        [
            "Read account started -",
            "Read account failed 0",
            "Read contact started -",
            "Read contact passed 0",
        ]
    );
}

#[tokio::test]
async fn an_unknown_table_is_a_failed_read_named_as_typed() {
    let harness = Harness::start().await;
    let (outcome, events) = add_observed(&harness, &["acount"]).await;
    assert!(
        matches!(outcome, AddOutcome::Failed { .. }),
        "expected a failed check, got {outcome:?}"
    );
    assert_eq!(
        lines(&events)[8..],
        ["Read acount started -", "Read acount failed 0"]
    );
}

#[tokio::test]
async fn an_invalid_form_sends_no_event() {
    let harness = Harness::start().await;
    let events = Mutex::new(Vec::new());
    let outcome = harness
        .flow(&["account"])
        .add_with_progress(
            &form("not a url", TENANT, IMPORTER, CURRENT_SECRET),
            &harness.store(),
            &events,
        )
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    assert!(matches!(outcome, AddOutcome::Invalid(_)), "{outcome:?}");
    assert_eq!(events.into_inner().expect("no panic"), []);
}

#[tokio::test]
async fn test_and_rotate_report_the_same_steps_over_the_saved_tables() {
    let harness = Harness::start().await;
    let (outcome, _) = add_observed(&harness, &["account"]).await;
    let AddOutcome::Added { source, .. } = outcome else {
        panic!("expected the source to be added, got {outcome:?}");
    };
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<CheckEvent>();
    harness
        .flow(&["contact"])
        .test_with_progress(&harness.store(), &source.name, &sender)
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    harness
        .flow(&["contact"])
        .rotate_secret_with_progress(
            &harness.store(),
            &source.name,
            d365_source::SecretString::from(CURRENT_SECRET),
            &sender,
        )
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    drop(sender);
    let mut events = Vec::new();
    while let Some(event) = receiver.recv().await {
        events.push(event);
    }
    let passed: Vec<String> = events
        .iter()
        .filter(|event| matches!(event.kind, CheckEventKind::Passed { .. }))
        .map(|event| event.label.clone())
        .collect();
    let one_check = [
        "Token",
        "WhoAmI",
        "Organization",
        "Privileges",
        "Read account",
    ];
    assert_eq!(passed, [one_check, one_check].concat());
    assert_eq!(events.len(), 20);
}

#[tokio::test]
async fn observing_the_check_changes_neither_its_requests_nor_its_outcome() {
    let forms = [
        form(CONTOSO_URL, TENANT, IMPORTER, CURRENT_SECRET),
        form(
            CONTOSO_URL,
            TENANT,
            IMPORTER,
            "Qm28Q~this.is.not.the.secret.value.0000",
        ),
        form(
            "https://contoso-nouser.crm.dynamics.com",
            TENANT,
            IMPORTER,
            CURRENT_SECRET,
        ),
    ];
    let mut runs = Vec::new();
    for observed in [false, true] {
        let harness = Harness::start().await;
        let flow = harness.flow(&["account", "contact"]);
        let mut outcomes = Vec::new();
        let mut ended = Vec::new();
        for (index, form) in forms.iter().enumerate() {
            // Each under its own name: the first one is saved.
            let form = &d365_source::SourceForm {
                name: format!("Source {index}"),
                ..form.clone()
            };
            let events = Mutex::new(Vec::new());
            let outcome = if observed {
                flow.add_with_progress(form, &harness.store(), &events)
                    .await
            } else {
                flow.add(form, &harness.store()).await
            }
            .unwrap_or_else(|error| panic!("{error:#}"));
            // The last event names the step a failure came from.
            if let (AddOutcome::Failed { problem, .. }, Some(last)) =
                (&outcome, events.lock().expect("no panic").last())
            {
                assert_eq!(last.step, problem.evidence.step);
                assert!(matches!(last.kind, CheckEventKind::Failed { .. }));
                ended.push(last.label.clone());
            }
            outcomes.push(format!("{outcome:?}"));
        }
        let requests: Vec<String> = harness
            .server
            .journal()
            .entries()
            .iter()
            .map(|entry| {
                format!(
                    "{} {} {} {}",
                    entry.status, entry.method, entry.host, entry.path
                )
            })
            .collect();
        if observed {
            assert_eq!(ended, ["Token", "WhoAmI"]);
        }
        runs.push((outcomes, requests));
    }
    assert_eq!(runs[0], runs[1]);
}
