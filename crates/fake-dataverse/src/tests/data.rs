//! Tables end to end in-process: privilege check, depth, paging, queries, single rows.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::*;
use crate::standard_tables;

const ACCOUNTS: u64 = 40;
const CONTACTS: u64 = 30;

fn table(name: &str, data: TableData) -> Table {
    Table {
        definition: standard_tables::standard_table(name).expect("a standard table"),
        data,
    }
}

/// The test environment with accounts and contacts generated, leads present but unreadable,
/// and the system tables.
fn data_config() -> Config {
    let mut config = config();
    config.environments[0].tables = vec![
        table("account", TableData::Generated { count: ACCOUNTS }),
        table("contact", TableData::Generated { count: CONTACTS }),
        table("lead", TableData::Generated { count: 5 }),
        table("systemuser", TableData::Rows(Vec::new())),
        table("role", TableData::Rows(Vec::new())),
        table("businessunit", TableData::Rows(Vec::new())),
    ];
    config
}

fn dataverse() -> std::sync::Arc<Dataverse> {
    service(data_config()).expect("valid config")
}

async fn get_with(dataverse: &Dataverse, path: &str, prefer: Option<&str>) -> Answer {
    let mut builder =
        Request::get(path).header("authorization", format!("Bearer {}", token(IMPORTER)));
    if let Some(prefer) = prefer {
        builder = builder.header("prefer", prefer);
    }
    send(dataverse, builder.body(Bytes::new()).expect("request")).await
}

fn ids(body: &Value, key: &str) -> Vec<String> {
    body["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|row| row[key].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn a_global_reader_lists_every_account_with_etags() {
    let answer = get_with(
        &dataverse(),
        "/api/data/v9.2/accounts?$select=name,revenue",
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = answer.json();
    assert_eq!(
        body["@odata.context"],
        "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#accounts(name,revenue)"
    );
    let rows = body["value"].as_array().expect("value");
    assert_eq!(rows.len() as u64, ACCOUNTS);
    let first = rows[0].as_object().expect("row");
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    // The order of the select-columns doc example: selected, ride-along, primary key.
    assert_eq!(
        keys,
        [
            "@odata.etag",
            "name",
            "revenue",
            "_transactioncurrencyid_value",
            "accountid"
        ]
    );
    assert!(
        first["@odata.etag"]
            .as_str()
            .expect("etag")
            .starts_with("W/\"")
    );
    assert!(body.get("@odata.nextLink").is_none());
}

#[tokio::test]
async fn paging_follows_next_links_built_on_the_request_base() {
    let dataverse = dataverse();
    let mut path = "/api/data/v9.2/accounts?$select=name".to_owned();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let answer = get_with(&dataverse, &path, Some("odata.maxpagesize=15")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.headers["preference-applied"], "odata.maxpagesize=15");
        let body = answer.json();
        seen.extend(ids(&body, "accountid"));
        pages += 1;
        match body["@odata.nextLink"].as_str() {
            Some(next) => {
                let rest = next
                    .strip_prefix("https://contoso.crm.dynamics.com")
                    .unwrap_or_else(|| panic!("next link on another base: {next}"));
                assert!(
                    rest.starts_with(
                        "/api/data/v9.2/accounts?$select=name&$skiptoken=%3Ccookie%20pagenumber=%22"
                    ),
                    "{rest}"
                );
                path = rest.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len() as u64, ACCOUNTS);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no row twice");
    // Pages come in primary-key order, so the whole walk is sorted.
    let all = get_with(
        &dataverse,
        "/api/data/v9.2/accounts?$select=name&$orderby=accountid",
        None,
    )
    .await
    .json();
    assert_eq!(ids(&all, "accountid"), seen);
}

#[tokio::test]
async fn count_and_top_and_filters_and_ordering() {
    let dataverse = dataverse();
    let body = get_with(
        &dataverse,
        "/api/data/v9.2/accounts?$select=name&$count=true&$top=5",
        None,
    )
    .await
    .json();
    assert_eq!(body["@odata.count"], ACCOUNTS);
    assert_eq!(body["value"].as_array().expect("value").len(), 5);
    let body = get_with(&dataverse, "/api/data/v9.2/accounts?$select=name,numberofemployees&$filter=numberofemployees%20gt%20100&$orderby=name%20desc", None).await.json();
    let rows = body["value"].as_array().expect("value");
    assert!(!rows.is_empty());
    let names: Vec<String> = rows
        .iter()
        .map(|row| row["name"].as_str().expect("name").to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted);
    assert!(
        rows.iter()
            .all(|row| row["numberofemployees"].as_i64().expect("number") > 100)
    );
    let count = get_with(&dataverse, "/api/data/v9.2/accounts/$count", None).await;
    assert_eq!(count.text, ACCOUNTS.to_string());
    assert_eq!(count.headers["content-type"], "text/plain");
}

#[tokio::test]
async fn local_depth_sees_only_its_business_unit() {
    let dataverse = dataverse();
    let body = get_with(
        &dataverse,
        "/api/data/v9.2/contacts?$select=fullname,_owningbusinessunit_value",
        None,
    )
    .await
    .json();
    let rows = body["value"].as_array().expect("value");
    assert!(
        !rows.is_empty() && (rows.len() as u64) < CONTACTS,
        "{} of {CONTACTS}",
        rows.len()
    );
    assert!(
        rows.iter()
            .all(|row| row["_owningbusinessunit_value"] == ROOT_UNIT)
    );
    // The administrator (Global on nothing for contacts) is refused, but reads accounts.
}

#[tokio::test]
async fn a_missing_privilege_is_0x80040220_with_the_real_message() {
    let answer = get_with(&dataverse(), "/api/data/v9.2/leads?$select=fullname", None).await;
    assert_error(
        &answer,
        403,
        "0x80040220",
        &format!(
            "Principal user (Id={IMPORTER_USER}, type=8, roleCount=1, privilegeCount=2, accessMode='4 Non-interactive', AADObjectId='0a0a0a0a-0000-4000-8000-000000000001', MetadataCachePrivilegesCount=42, businessUnitId={ROOT_UNIT}), is missing prvReadLead privilege (Id=a8ecac53-09e8-4a13-b598-8d8c87bc3d33) on OTC=4 for entity 'lead' (LocalizedName='Lead'). context.Caller={IMPORTER_USER}. Consider adding missed privilege to one of the principal (user/team) roles."
        ),
    );
}

#[tokio::test]
async fn zero_roles_get_the_not_assigned_variant() {
    let request = Request::get("/api/data/v9.2/accounts")
        .header("authorization", format!("Bearer {}", token(ROLELESS_APP)))
        .body(Bytes::new())
        .expect("request");
    let answer = send(&dataverse(), request).await;
    assert_error(
        &answer,
        403,
        "0x80040220",
        "The user with id 2138bd90-ec19-ea11-a811-000d3a334e13 has not been assigned any roles. They need a role with the prvReadAccount privilege.",
    );
}

#[tokio::test]
async fn single_rows_exist_are_missing_or_out_of_reach() {
    let dataverse = dataverse();
    let all = get_with(&dataverse, "/api/data/v9.2/accounts?$select=name", None)
        .await
        .json();
    let id = ids(&all, "accountid")[3].clone();
    let answer = get_with(
        &dataverse,
        &format!("/api/data/v9.2/accounts({id})?$select=name"),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = answer.json();
    assert_eq!(
        body["@odata.context"],
        "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#accounts(name)/$entity"
    );
    assert_eq!(body["accountid"], id.as_str());
    assert_eq!(
        answer.headers["etag"],
        body["@odata.etag"].as_str().expect("etag")
    );

    let missing = "00000000-0000-0000-0000-000000000001";
    let answer = get_with(
        &dataverse,
        &format!("/api/data/v9.2/accounts({missing})"),
        None,
    )
    .await;
    assert_error(
        &answer,
        404,
        "0x80040217",
        &format!("Entity 'account' With Id = {missing} Does Not Exist"),
    );

    // A contact owned in the Sales business unit: Local depth from the root cannot reach it.
    let admin_view = {
        let mut config = data_config();
        config.environments[0].roles[0]
            .privileges
            .insert("prvReadContact".into(), Depth::Global);
        let dataverse = service(config).expect("valid config");
        get_with(
            &dataverse,
            "/api/data/v9.2/contacts?$select=fullname,_owningbusinessunit_value",
            None,
        )
        .await
        .json()
    };
    let far = admin_view["value"]
        .as_array()
        .expect("value")
        .iter()
        .find(|row| row["_owningbusinessunit_value"] == SALES_UNIT)
        .expect("some contact in Sales")["contactid"]
        .as_str()
        .expect("id")
        .to_owned();
    let answer = get_with(&dataverse, &format!("/api/data/v9.2/contacts({far})"), None).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
    let error = &answer.json()["error"];
    assert_eq!(error["code"], "0x80048306");
    let message = error["message"].as_str().expect("message");
    assert!(message.starts_with(&format!("user with id {IMPORTER_USER} does not have ReadAccess right(s) for record with id {far} of entity Contact. Consider assigning a role with the required access level to the user or team. For further troubleshooting, please work with a system administrator to use the Access Checker tool on this record: https://contoso.crm.dynamics.com/main.aspx?forceUCI=1&pagetype=entityrecord&etn=contact&id={far}. More details: {{")), "{message}");
    assert!(
        message.contains("\"RightsToCheck\":\"ReadAccess\""),
        "{message}"
    );
}

#[tokio::test]
async fn unknown_columns_and_unsupported_options_fail_loudly() {
    let dataverse = dataverse();
    let answer = get_with(&dataverse, "/api/data/v9.2/accounts?$select=Name", None).await;
    assert_error(
        &answer,
        400,
        "0x80060888",
        "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'.",
    );
    let answer = get_with(&dataverse, "/api/data/v9.2/accounts?$skip=10", None).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .expect("message")
            .contains("'$skip'")
    );
    let answer = get_with(&dataverse, "/api/data/v9.2/Accounts", None).await;
    assert_error(
        &answer,
        404,
        "0x8006088a",
        "Resource not found for the segment 'Accounts'.",
    );
}

#[tokio::test]
async fn lookups_expand_and_roles_expand_on_the_application_user() {
    let dataverse = dataverse();
    let body = get_with(
        &dataverse,
        "/api/data/v9.2/accounts?$select=name&$expand=primarycontactid($select=fullname)&$top=10",
        None,
    )
    .await
    .json();
    let rows = body["value"].as_array().expect("value");
    assert!(rows.iter().all(|row| row.get("primarycontactid").is_some()));
    assert!(
        rows.iter()
            .any(|row| row["primarycontactid"]["fullname"].is_string()),
        "{body}"
    );
    assert_eq!(
        body["@odata.context"],
        "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#accounts(name,primarycontactid(fullname))"
    );

    let path = format!(
        "/api/data/v9.2/systemusers({IMPORTER_USER})?$select=fullname,applicationid&$expand=systemuserroles_association($select=name,roleid)"
    );
    let mut config = data_config();
    config.environments[0].roles[0]
        .privileges
        .insert("prvReadUser".into(), Depth::Global);
    config.environments[0].roles[0]
        .privileges
        .insert("prvReadRole".into(), Depth::Global);
    let dataverse = service(config).expect("valid config");
    let answer = get_with(&dataverse, &path, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["applicationid"], IMPORTER);
    assert_eq!(
        body["systemuserroles_association"],
        json!([{"name": "Importer Reader", "roleid": READER_ROLE}])
    );
}

#[tokio::test]
async fn formatted_values_come_with_the_annotation_preference() {
    let dataverse = dataverse();
    let plain = get_with(
        &dataverse,
        "/api/data/v9.2/accounts?$select=statecode,revenue&$top=1",
        None,
    )
    .await
    .json();
    assert!(
        plain["value"][0]
            .get("statecode@OData.Community.Display.V1.FormattedValue")
            .is_none()
    );
    let answer = get_with(
        &dataverse,
        "/api/data/v9.2/accounts?$select=statecode,revenue&$top=1",
        Some("odata.include-annotations=\"*\""),
    )
    .await;
    assert_eq!(
        answer.headers["preference-applied"],
        "odata.include-annotations=\"*\""
    );
    let row = answer.json()["value"][0].clone();
    assert_eq!(
        row["statecode@OData.Community.Display.V1.FormattedValue"],
        "Active"
    );
    if let Some(revenue) = row["revenue"].as_f64() {
        assert!(
            row["revenue@OData.Community.Display.V1.FormattedValue"]
                .as_str()
                .expect("money")
                .starts_with('$'),
            "{revenue}"
        );
    }
}

#[tokio::test]
async fn principal_access_reports_the_rights_on_a_row() {
    let dataverse = dataverse();
    let all = get_with(
        &dataverse,
        "/api/data/v9.2/accounts?$select=name&$top=1",
        None,
    )
    .await
    .json();
    let id = ids(&all, "accountid")[0].clone();
    let path = format!(
        "/api/data/v9.2/systemusers({IMPORTER_USER})/Microsoft.Dynamics.CRM.RetrievePrincipalAccess(Target=@p1)?@p1=%7B'@odata.id':'accounts({id})'%7D"
    );
    let answer = get_with(&dataverse, &path, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json()["AccessRights"], "ReadAccess");
}

#[tokio::test]
async fn a_million_row_table_pages_from_any_skiptoken_without_scanning() {
    let mut config = data_config();
    config.environments[0].tables[0].data = TableData::Generated { count: 1_000_000 };
    let dataverse = service(config).expect("valid config");
    let first = get_with(
        &dataverse,
        "/api/data/v9.2/accounts?$select=name",
        Some("odata.maxpagesize=5000"),
    )
    .await
    .json();
    assert_eq!(first["value"].as_array().expect("value").len(), 5000);
    let next = first["@odata.nextLink"].as_str().expect("more pages");
    let second = get_with(
        &dataverse,
        next.strip_prefix("https://contoso.crm.dynamics.com")
            .expect("same base"),
        Some("odata.maxpagesize=5000"),
    )
    .await
    .json();
    let first_ids = ids(&first, "accountid");
    let second_ids = ids(&second, "accountid");
    assert_eq!(second_ids.len(), 5000);
    assert!(!second_ids.iter().any(|id| first_ids.contains(id)));
}

#[tokio::test]
async fn fast_and_general_paths_write_the_same_rows() {
    let dataverse = dataverse();
    for select in [
        "",
        "$select=name,revenue,createdon,statecode,_primarycontactid_value&",
    ] {
        let direct = get_with(
            &dataverse,
            &format!("/api/data/v9.2/accounts?{select}$top=40"),
            None,
        )
        .await;
        // A filter that keeps every row sends the page through the general path.
        let general = get_with(
            &dataverse,
            &format!("/api/data/v9.2/accounts?{select}$filter=accountid%20ne%20null&$top=40"),
            None,
        )
        .await;
        assert_eq!(direct.status, StatusCode::OK, "{}", direct.text);
        assert_eq!(direct.json()["value"], general.json()["value"], "{select}");
        let direct_text = direct.text.split("\"value\":").nth(1).expect("value");
        let general_text = general.text.split("\"value\":").nth(1).expect("value");
        assert_eq!(direct_text, general_text, "byte for byte, {select}");
    }
    // Basic depth through the owner shortcut sees the same rows as through full rows. The
    // application user owns no generated rows; an owner team it belongs to owns some.
    let mut config = data_config();
    config.environments[0].roles[0]
        .privileges
        .insert("prvReadAccount".into(), Depth::Basic);
    config.environments[0].teams = vec![teams::owner_team(&[IMPORTER_USER], &[])];
    let dataverse = service(config).expect("valid config");
    let direct = get_with(&dataverse, "/api/data/v9.2/accounts?$select=name", None)
        .await
        .json();
    let general = get_with(
        &dataverse,
        "/api/data/v9.2/accounts?$select=name&$filter=accountid%20ne%20null",
        None,
    )
    .await
    .json();
    assert_eq!(direct["value"], general["value"]);
    assert!(!direct["value"].as_array().expect("value").is_empty());
}

// Heavy queries: bounded ordered pages, the scan budget, scans off the async workers.
mod scan;
mod teams;
