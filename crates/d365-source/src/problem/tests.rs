//! Every [`Problem`] rendered from a table of evidences (with and without retries, waits and
//! `Retry-After`, and each way of giving up): no sentence may claim a wait, a retry or a
//! `Retry-After` that its evidence does not show, and every one the evidence shows is said.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{
    Evidence, GaveUp, PartialReach, Problem, ProblemKind, Step, Subject, TlsCause, duration_text,
};

const SUBJECT: Subject<'static> = Subject {
    tenant: "contoso.onmicrosoft.com",
    client_id: "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01",
    environment: "https://contoso.crm.dynamics.com",
    secret_looks_like_id: false,
};
const HOST: &str = "contoso.crm.dynamics.com";

/// The evidences every problem is rendered from: none, retries with waits, a `Retry-After`.
fn evidences() -> Vec<Evidence> {
    let base = || {
        Evidence::new(
            Step::WhoAmI,
            "GET https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI",
        )
    };
    vec![
        base(),
        base().status(503),
        base().status(429).retry_after(Some(120)),
        base()
            .status(429)
            .retry_after(Some(30))
            .attempts(2, Duration::from_secs(60)),
        base().attempts(1, Duration::from_millis(850)),
        base().status(503).attempts(3, Duration::from_millis(5_600)),
    ]
}

/// Every way of giving up a problem of the retry loop can carry.
fn gave_ups() -> Vec<GaveUp> {
    vec![
        GaveUp::RetriesUsed,
        GaveUp::WaitBeyondBudget {
            next_wait: Duration::from_secs(120),
            wait_left: Duration::from_secs(60),
            max_wait: Duration::from_secs(60),
        },
        GaveUp::WaitBeyondBudget {
            next_wait: Duration::from_secs(30),
            wait_left: Duration::ZERO,
            max_wait: Duration::from_secs(60),
        },
        GaveUp::WaitBeyondBudget {
            next_wait: Duration::from_millis(3_300),
            wait_left: Duration::from_secs(2),
            max_wait: Duration::from_secs(60),
        },
    ]
}

/// Every problem the flow can report, each from `evidence` (and `gave_up` where the problem
/// comes out of the retry loop).
fn every_problem(evidence: &Evidence, gave_up: GaveUp) -> Vec<Problem> {
    let entra = [
        "AADSTS900023",
        "AADSTS90002",
        "AADSTS700016",
        "AADSTS65001",
        "AADSTS7000215",
        "AADSTS7000222",
        "AADSTS7000112",
        "AADSTS500011",
        "AADSTS500014",
        "AADSTS53003",
    ];
    let mut problems: Vec<Problem> = entra
        .iter()
        .map(|code| {
            Problem::from_entra_code(code, &SUBJECT, evidence.clone())
                .expect("a code the flow knows")
        })
        .collect();
    let dataverse = [
        (
            "0x80072560",
            "The user is not a member of the organization.",
        ),
        ("0x80040225", "The user is disabled."),
        ("0x8004A113", "The organization is in administration mode."),
        ("0x80042F09", "The user has no role."),
        (
            "0x80040220",
            "Principal user (Id=1) is missing prvReadAccount privilege (Id=2) on OTC=1 for entity 'account'.",
        ),
    ];
    problems.extend(dataverse.iter().map(|(code, message)| {
        Problem::from_dataverse_code(code, message, &SUBJECT, evidence.clone(), Some("account"))
            .expect("a code the flow knows")
    }));
    problems.extend([
        Problem::table_not_found(
            &SUBJECT,
            evidence.clone(),
            "acount",
            &["account".to_owned()],
        ),
        Problem::rows_not_visible(
            &SUBJECT,
            evidence.clone(),
            "account",
            super::PartialReach::OwnedRows,
        ),
        Problem::token_rejected(&SUBJECT, evidence.clone(), None),
        Problem::token_rejected(&SUBJECT, evidence.clone(), Some("litware.onmicrosoft.com")),
        Problem::environment_not_found(HOST, evidence.clone()),
        Problem::tls_failure(HOST, evidence.clone(), TlsCause::Untrusted),
        Problem::tls_failure(HOST, evidence.clone(), TlsCause::Expired),
        Problem::tls_failure(HOST, evidence.clone(), TlsCause::WrongName),
        Problem::tls_failure(HOST, evidence.clone(), TlsCause::Handshake),
        Problem::connection_failed(HOST, evidence.clone()),
        Problem::connection_dropped(HOST, evidence.clone(), gave_up),
        Problem::timeout(HOST, evidence.clone()),
        Problem::throttled(HOST, evidence.clone(), gave_up),
        Problem::service_unavailable(HOST, evidence.clone(), gave_up),
        Problem::unexpected_response(HOST, evidence.clone()),
    ]);
    problems
}

/// What a problem's message may claim, given its evidence and why it gave up.
#[track_caller]
fn check_true_to_evidence(problem: &Problem, gave_up: GaveUp) {
    let evidence = &problem.evidence;
    let message = problem.message.to_lowercase();
    let fix = problem.fix.to_lowercase();
    let context = format!(
        "{:?} from {evidence:?}, {gave_up:?}: {}",
        problem.kind, problem.message
    );
    if evidence.retries == 0 {
        for claim in ["retr", "waited", "of waiting", "kept", "still", " tries"] {
            assert!(
                !message.contains(claim),
                "claims `{claim}` without a retry: {context}"
            );
        }
    } else if message.contains("retr") || message.contains("tries") {
        let waited = duration_text(Duration::from_millis(evidence.waited_ms)).to_lowercase();
        assert!(
            message.contains(&waited),
            "says retries without the wait {waited}: {context}"
        );
    }
    match evidence.retry_after_seconds {
        Some(seconds) => {
            let asked = duration_text(Duration::from_secs(seconds)).to_lowercase();
            if message.contains("asked") {
                assert!(
                    message.contains(&asked),
                    "asked for another wait than {asked}: {context}"
                );
            }
            if fix.contains("asked for") {
                assert!(
                    fix.contains(&asked),
                    "fix names another wait than {asked}: {context}"
                );
            }
        }
        None => {
            assert!(
                !message.contains("asked"),
                "claims a Retry-After: {context}"
            );
            assert!(
                !fix.contains("asked for"),
                "fix claims a Retry-After: {context}"
            );
        }
    }
    if gave_up == GaveUp::RetriesUsed {
        assert!(
            !message.contains("stopped without waiting"),
            "claims a budget stop: {context}"
        );
    }
}

#[test]
fn every_message_is_true_to_its_evidence() {
    let mut kinds = BTreeSet::new();
    for evidence in evidences() {
        for gave_up in gave_ups() {
            for problem in every_problem(&evidence, gave_up) {
                check_true_to_evidence(&problem, gave_up);
                kinds.insert(problem.kind.as_str());
            }
        }
    }
    let all: BTreeSet<&str> = ProblemKind::ALL.iter().map(|kind| kind.as_str()).collect();
    assert_eq!(kinds, all, "every kind is rendered");
}

#[test]
fn retries_and_waits_are_said_where_the_retry_loop_gave_up() {
    let evidence = Evidence::new(
        Step::WhoAmI,
        "GET https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI",
    )
    .status(429)
    .retry_after(Some(30))
    .attempts(2, Duration::from_secs(60));
    let budget_used = GaveUp::WaitBeyondBudget {
        next_wait: Duration::from_secs(30),
        wait_left: Duration::ZERO,
        max_wait: Duration::from_secs(60),
    };
    assert_eq!(
        Problem::throttled(HOST, evidence.clone(), budget_used).message,
        "contoso.crm.dynamics.com is limiting requests (429 Too Many Requests), and still was after 2 retries and 60 seconds of waiting; it asked the importer to wait 30 seconds before trying again, and the connection check had used all 60 seconds it may wait, so the check stopped there."
    );
    let beyond = GaveUp::WaitBeyondBudget {
        next_wait: Duration::from_secs(120),
        wait_left: Duration::from_secs(60),
        max_wait: Duration::from_secs(60),
    };
    let at_once = Evidence::new(
        Step::Token,
        "POST https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
    )
    .status(429)
    .retry_after(Some(120));
    let problem = Problem::throttled("login.microsoftonline.com", at_once, beyond);
    assert_eq!(
        problem.message,
        "login.microsoftonline.com is limiting requests (429 Too Many Requests); it asked the importer to wait 2 minutes before trying again, more than the connection check waits (60 seconds at most), so the check stopped without waiting."
    );
    assert!(
        problem
            .fix
            .starts_with("Test the source again in 2 minutes or later"),
        "{}",
        problem.fix
    );
    let dropped = Evidence::new(
        Step::WhoAmI,
        "GET https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI",
    )
    .attempts(3, Duration::from_millis(5_600));
    assert_eq!(
        Problem::connection_dropped(HOST, dropped, GaveUp::RetriesUsed).message,
        "The importer connected to contoso.crm.dynamics.com, but the connection was dropped before the answer arrived, on each of 4 tries (5.6 seconds of waiting between them)."
    );
}

#[test]
fn evidence_without_retries_serialises_as_before() {
    let evidence = Evidence::new(
        Step::Token,
        "POST https://login.microsoftonline.com/x/oauth2/v2.0/token",
    )
    .status(400);
    let json = serde_json::to_string(&evidence).expect("evidence serialises");
    assert_eq!(
        json,
        r#"{"step":"token","request":"POST https://login.microsoftonline.com/x/oauth2/v2.0/token","status":400}"#
    );
    let with = evidence.attempts(2, Duration::from_millis(1_500));
    let json = serde_json::to_string(&with).expect("evidence serialises");
    assert!(json.ends_with(r#""retries":2,"waited_ms":1500}"#), "{json}");
    let back: Evidence = serde_json::from_str(&json).expect("evidence reads back");
    assert_eq!(back, with);
}

#[test]
fn durations_read_as_a_sentence_says_them() {
    assert_eq!(duration_text(Duration::from_secs(1)), "1 second");
    assert_eq!(duration_text(Duration::from_secs(30)), "30 seconds");
    assert_eq!(duration_text(Duration::from_secs(90)), "90 seconds");
    assert_eq!(duration_text(Duration::from_secs(120)), "2 minutes");
    assert_eq!(duration_text(Duration::from_millis(1_600)), "1.6 seconds");
}

#[test]
fn a_missing_table_names_the_nearest_tables() {
    let evidence = || {
        Evidence::new(
            Step::TableRead,
            "GET https://contoso.crm.dynamics.com/api/data/v9.2/EntityDefinitions",
        )
    };
    let message = |suggestions: &[&str]| {
        let suggestions: Vec<String> = suggestions.iter().map(|name| (*name).to_owned()).collect();
        Problem::table_not_found(&SUBJECT, evidence(), "contcts", &suggestions).message
    };
    assert_eq!(
        message(&[]),
        "Environment https://contoso.crm.dynamics.com has no table named 'contcts'."
    );
    assert_eq!(
        message(&["contact"]),
        "Environment https://contoso.crm.dynamics.com has no table named 'contcts'. Did you mean contact?"
    );
    assert_eq!(
        message(&["contact", "account", "contract"]),
        "Environment https://contoso.crm.dynamics.com has no table named 'contcts'. Did you mean contact, account or contract?"
    );
}

#[test]
fn rows_not_visible_says_the_depth_and_the_unit_fix_that_fits_it() {
    let evidence = || {
        Evidence::new(
            Step::TableRead,
            "GET https://contoso.crm.dynamics.com/api/data/v9.2/accounts?$select=accountid&$top=1",
        )
        .status(200)
    };
    let owned = Problem::rows_not_visible(&SUBJECT, evidence(), "account", PartialReach::OwnedRows);
    assert_eq!(owned.kind, ProblemKind::RowsNotVisible);
    assert!(owned.message.contains("User (Basic)"), "{}", owned.message);
    assert!(
        owned.fix.contains("set Read to Organization"),
        "{}",
        owned.fix
    );
    assert!(
        owned.fix.contains("set Read to Business Unit and move"),
        "{}",
        owned.fix
    );
    let unit = Problem::rows_not_visible(&SUBJECT, evidence(), "account", PartialReach::OneUnit);
    assert!(
        unit.message.contains("Business Unit (Local)"),
        "{}",
        unit.message
    );
    assert!(
        !unit.fix.contains("set Read to Business Unit"),
        "{}",
        unit.fix
    );
    let unknown = Problem::rows_not_visible(
        &SUBJECT,
        evidence(),
        "account",
        PartialReach::UnitSubtreeRootUnknown,
    );
    assert!(
        unknown
            .message
            .contains("Parent: Child Business Units (Deep)"),
        "{}",
        unknown.message
    );
    assert!(
        unknown.message.contains("cannot read business units"),
        "{}",
        unknown.message
    );
}

#[test]
fn each_steps_name_is_its_serialized_name() {
    for step in [
        Step::Token,
        Step::WhoAmI,
        Step::Organization,
        Step::Privileges,
        Step::TableRead,
    ] {
        assert_eq!(
            serde_json::to_value(step).expect("a step serializes"),
            serde_json::Value::String(step.as_str().to_owned())
        );
    }
}
