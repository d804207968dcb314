//! Heavy queries: ordered pages from one bounded pass per page (the same pages as a full
//! sort), the scan budget and its error, and large scans kept off the async workers.

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use super::*;
use crate::generator::generate_row;
use crate::odata::{self, QueryOptions, Row};

/// `accounts` with `rows` generated rows, the rest of the data test environment unchanged.
fn accounts(rows: u64) -> Config {
    let mut config = data_config();
    config.environments[0].tables[0].data = TableData::Generated { count: rows };
    config
}

/// Follows next links from `path` with `odata.maxpagesize=page_size`; the ids of each page.
async fn pages(dataverse: &Dataverse, path: &str, page_size: usize) -> Vec<Vec<String>> {
    let prefer = format!("odata.maxpagesize={page_size}");
    let mut path = path.to_owned();
    let mut pages = Vec::new();
    loop {
        let answer = get_with(dataverse, &path, Some(&prefer)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
        let body = answer.json();
        pages.push(ids(&body, "accountid"));
        match body["@odata.nextLink"].as_str() {
            Some(next) => {
                path = next
                    .strip_prefix("https://contoso.crm.dynamics.com")
                    .expect("same base")
                    .to_owned();
            }
            None => return pages,
        }
    }
}

/// The naive answer: every generated account, filtered and fully sorted with the query's own
/// comparator (`OrderBy::compare`, not the sort keys the scan uses).
fn sorted_ids(dataverse: &Dataverse, raw_query: &str) -> Vec<String> {
    let state = dataverse.snapshot();
    let state = &*state;
    let environment = &state.config.environments[0];
    let table = &environment.tables[0];
    let TableData::Generated { count } = table.data else {
        panic!("accounts are generated");
    };
    let lookup = |name: &str| {
        crate::rows::table_by_logical_name(environment, name).map(|table| &table.definition)
    };
    let query = odata::parse_query(
        raw_query,
        &table.definition,
        &lookup,
        &QueryOptions::default(),
    )
    .expect("valid query");
    let spec = state.spec(environment);
    let mut rows: Vec<Row> = (0..count)
        .map(|index| generate_row(spec, &table.definition, index))
        .filter(|row| query.matches(row))
        .collect();
    rows.sort_by(|left, right| query.compare(left, right));
    rows.iter()
        .map(|row| row["accountid"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn ordered_pages_are_the_pages_of_a_full_sort() {
    let dataverse = service(accounts(120)).expect("valid config");
    // Text with case folding, descending keys, many ties (state and status: the page
    // boundaries fall inside runs of equal keys, which the primary key must order), nulls,
    // and a filter.
    for query in [
        "$select=name&$orderby=name",
        "$select=name&$orderby=name%20desc",
        "$select=name&$orderby=statecode,statuscode%20desc",
        "$select=name&$orderby=numberofemployees%20desc,name",
        "$select=name&$orderby=revenue",
        "$select=name&$orderby=createdon%20desc",
        "$select=name&$orderby=name&$filter=numberofemployees%20gt%20100",
    ] {
        let expected = sorted_ids(&dataverse, query);
        // 7 leaves a short last page; 40 ends on a full one with no next link.
        for page_size in [7, 40] {
            let pages = pages(
                &dataverse,
                &format!("/api/data/v9.2/accounts?{query}"),
                page_size,
            )
            .await;
            let (last, full) = pages.split_last().expect("a page");
            assert!(full.iter().all(|page| page.len() == page_size), "{query}");
            assert!(!last.is_empty() && last.len() <= page_size, "{query}");
            let walked: Vec<String> = pages.concat();
            assert_eq!(walked, expected, "{query}, pages of {page_size}");
        }
        // Without paging, `$top` cuts the same order.
        let top = get_with(
            &dataverse,
            &format!("/api/data/v9.2/accounts?{query}&$top=13"),
            None,
        )
        .await
        .json();
        let expected_top: Vec<String> = expected.iter().take(13).cloned().collect();
        assert_eq!(ids(&top, "accountid"), expected_top, "{query}");
    }
}

#[tokio::test]
async fn an_ordered_page_holds_only_page_size_plus_one_rows() {
    let dataverse = service(accounts(20_000)).expect("valid config");
    let first = get_with(
        &dataverse,
        "/api/data/v9.2/accounts?$select=name&$orderby=name",
        Some("odata.maxpagesize=10"),
    )
    .await
    .json();
    let first_ids = ids(&first, "accountid");
    assert_eq!(first_ids.len(), 10);
    let next = first["@odata.nextLink"].as_str().expect("more pages");
    let second = get_with(
        &dataverse,
        next.strip_prefix("https://contoso.crm.dynamics.com")
            .expect("same base"),
        Some("odata.maxpagesize=10"),
    )
    .await
    .json();
    let snapshot = dataverse.snapshot();
    let stats = &snapshot.scan_stats;
    // Each page is one pass over all 20,000 rows that never holds more than 11 of them.
    assert_eq!(stats.last_examined(), 20_000);
    assert_eq!(stats.peak_held(), 11);
    let second_ids = ids(&second, "accountid");
    assert_eq!(second_ids.len(), 10);
    assert!(!second_ids.iter().any(|id| first_ids.contains(id)));
}

#[track_caller]
fn assert_sql_timeout(answer: &Answer) {
    assert_error(
        answer,
        500,
        "0x80044151",
        "SQL timeout expired. CRM ErrorCode: -2147204783 Sql ErrorCode: -2146232060 Sql Number: -2",
    );
}

#[tokio::test]
async fn a_query_over_its_row_budget_ends_in_the_sql_timeout_error() {
    let mut config = accounts(100);
    config.scan_budget.max_rows = 100;
    let dataverse = service(config).expect("valid config");
    // Exactly the budget: one pass over the 100 rows is allowed.
    let answer = get_with(&dataverse, "/api/data/v9.2/accounts?$orderby=name", None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);

    // The count and the page share one budget: 100 rows counted, then the page is over.
    for path in [
        "/api/data/v9.2/accounts?$orderby=name&$count=true",
        "/api/data/v9.2/accounts?$count=true&$filter=name%20eq%20'none'",
    ] {
        assert_sql_timeout(&get_with(&dataverse, path, None).await);
    }
    let mut config = accounts(100);
    config.scan_budget.max_rows = 99;
    let dataverse = service(config).expect("valid config");
    for path in [
        "/api/data/v9.2/accounts?$orderby=name",
        "/api/data/v9.2/accounts?$orderby=name%20desc&$filter=numberofemployees%20gt%20100",
        // The primary-key order streams, but a filter that matches nothing reads every row.
        "/api/data/v9.2/accounts?$filter=name%20eq%20'none'",
        "/api/data/v9.2/accounts/$count",
    ] {
        assert_sql_timeout(&get_with(&dataverse, path, None).await);
    }
}

#[tokio::test]
async fn a_query_over_its_time_budget_ends_in_the_sql_timeout_error() {
    let mut config = accounts(100);
    config.scan_budget.max_time = Some(Duration::ZERO);
    let dataverse = service(config).expect("valid config");
    let answer = get_with(&dataverse, "/api/data/v9.2/accounts?$orderby=name", None).await;
    assert_sql_timeout(&answer);
    // Requests that scan nothing are not affected.
    let answer = get(&dataverse, "/api/data/v9.2/WhoAmI", Some(&token(IMPORTER))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

/// A current-thread runtime has one worker: if a scan ran on it, nothing else could answer.
/// Scans here stop at their start (the test hook) until released, so the order of events
/// shows that `WhoAmI` was answered while two large scans were running, and that a third
/// waited for a permit. Time is paused: without scans off the runtime, the wait for their
/// start times out at once instead of hanging.
#[tokio::test(start_paused = true)]
async fn large_scans_run_off_the_async_worker_and_wait_for_a_permit() {
    let dataverse = service(accounts(6_000)).expect("valid config");
    let (started_sender, mut started) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (release, released) = mpsc::channel::<()>();
    let released = Arc::new(Mutex::new(released));
    *dataverse.scan_started.lock().expect("hook") = Some(Arc::new(move || {
        let _ = started_sender.send(());
        // A bound on the wait, so a broken test fails instead of hanging.
        let _ = released
            .lock()
            .expect("release")
            .recv_timeout(Duration::from_secs(60));
    }));
    let scan = |dataverse: &Arc<Dataverse>| {
        let dataverse = Arc::clone(dataverse);
        tokio::spawn(async move {
            get_with(
                &dataverse,
                "/api/data/v9.2/accounts?$orderby=name&$top=3",
                None,
            )
            .await
        })
    };
    let scans = [scan(&dataverse), scan(&dataverse)];
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(60), started.recv())
            .await
            .expect("a large scan starts off the async worker")
            .expect("hook alive");
    }
    // Both permits are taken: a third large scan waits without starting.
    let third = scan(&dataverse);
    tokio::task::yield_now().await;
    assert_eq!(dataverse.scans.available_permits(), 0);

    // Two scans are running and the only worker still answers WhoAmI.
    let answer = get(&dataverse, "/api/data/v9.2/WhoAmI", Some(&token(IMPORTER))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(
        started.try_recv().is_err(),
        "the third scan waits for a permit"
    );
    assert!(!third.is_finished());

    for _ in 0..3 {
        release.send(()).expect("scans waiting");
    }
    for scan in scans.into_iter().chain([third]) {
        let answer = scan.await.expect("scan task");
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(ids(&answer.json(), "accountid").len(), 3);
    }
}

#[tokio::test]
async fn expands_scan_within_the_same_budget() {
    // Five accounts, each expanding over the 30 contacts: about 150 rows examined.
    let path = "/api/data/v9.2/accounts?$select=name&$expand=contact_customer_accounts($select=fullname)&$top=5";
    let mut config = data_config();
    config.scan_budget.max_rows = 1_000;
    let answer = get_with(&service(config).expect("valid config"), path, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let mut config = data_config();
    config.scan_budget.max_rows = 100;
    let answer = get_with(&service(config).expect("valid config"), path, None).await;
    assert_sql_timeout(&answer);
}
