//! A custom table (`cr7a1_asset`) built from [`CustomTable`]: metadata, queries and privileges.

use super::*;
use crate::schema::{ColumnKind, CustomTable, OptionValue, Ownership, privilege_names};

const ASSETS: u64 = 30;

fn asset() -> CustomTable {
    CustomTable {
        logical_name: "cr7a1_asset".into(),
        schema_name: "cr7a1_Asset".into(),
        entity_set_name: "cr7a1_assets".into(),
        display_name: "Asset".into(),
        display_collection_name: "Assets".into(),
        primary_id_attribute: "cr7a1_assetid".into(),
        primary_name_attribute: "cr7a1_name".into(),
        ownership: Ownership::UserOwned,
        object_type_code: 10_000,
        columns: vec![
            (
                "cr7a1_serialnumber".into(),
                ColumnKind::String { max_length: 100 },
            ),
            ("cr7a1_cost".into(), ColumnKind::Money),
            ("cr7a1_units".into(), ColumnKind::Integer),
            (
                "cr7a1_kind".into(),
                ColumnKind::Picklist {
                    options: vec![
                        OptionValue {
                            value: 100_000_000,
                            label: "Laptop".into(),
                            state: None,
                        },
                        OptionValue {
                            value: 100_000_001,
                            label: "Phone".into(),
                            state: None,
                        },
                    ],
                },
            ),
            (
                "cr7a1_account".into(),
                ColumnKind::Lookup {
                    targets: vec!["account".into()],
                },
            ),
        ],
    }
}

/// The test environment with assets generated; the importer's role reads them only when
/// `read` says so.
fn dataverse(read: bool) -> std::sync::Arc<Dataverse> {
    let mut config = config();
    let environment = &mut config.environments[0];
    environment.tables = vec![
        Table {
            definition: crate::standard_tables::standard_table("account").expect("account"),
            data: TableData::Generated { count: 5 },
        },
        Table {
            definition: asset().definition(),
            data: TableData::Generated { count: ASSETS },
        },
    ];
    if read {
        environment.roles[0]
            .privileges
            .insert("prvReadcr7a1_Asset".into(), Depth::Global);
    }
    service(config).expect("valid config")
}

#[test]
fn custom_tables_have_their_schema_name_privileges() {
    let names = privilege_names(&asset().definition());
    assert_eq!(
        names,
        [
            "prvCreatecr7a1_Asset",
            "prvReadcr7a1_Asset",
            "prvWritecr7a1_Asset",
            "prvDeletecr7a1_Asset",
            "prvAppendcr7a1_Asset",
            "prvAppendTocr7a1_Asset",
            "prvAssigncr7a1_Asset",
            "prvSharecr7a1_Asset",
        ]
    );
    let organization = CustomTable {
        ownership: Ownership::OrganizationOwned,
        ..asset()
    }
    .definition();
    assert_eq!(privilege_names(&organization).len(), 6);
    assert!(organization.column("_ownerid_value").is_none());
}

#[tokio::test]
async fn entity_definitions_list_the_custom_table_with_its_names() {
    let answer = get(
        &dataverse(true),
        "/api/data/v9.2/EntityDefinitions?$select=LogicalName,SchemaName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,ObjectTypeCode&$filter=LogicalName%20eq%20'cr7a1_asset'",
        Some(&token(IMPORTER)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = answer.json();
    let row = &body["value"][0];
    assert_eq!(row["LogicalName"], "cr7a1_asset");
    assert_eq!(row["SchemaName"], "cr7a1_Asset");
    assert_eq!(row["EntitySetName"], "cr7a1_assets");
    assert_eq!(row["PrimaryIdAttribute"], "cr7a1_assetid");
    assert_eq!(row["PrimaryNameAttribute"], "cr7a1_name");
    assert_eq!(row["ObjectTypeCode"], 10_000);
}

#[tokio::test]
async fn metadata_declares_the_custom_entity_type_and_set() {
    let answer = get(
        &dataverse(true),
        "/api/data/v9.2/$metadata",
        Some(&token(IMPORTER)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(answer.text.contains(r#"<EntityType Name="cr7a1_asset">"#));
    assert!(answer.text.contains(r#"<PropertyRef Name="cr7a1_assetid""#));
    assert!(answer.text.contains(
        r#"<EntitySet Name="cr7a1_assets" EntityType="Microsoft.Dynamics.CRM.cr7a1_asset""#
    ));
    assert!(answer.text.contains(r#"Name="_cr7a1_account_value""#));
}

#[tokio::test]
async fn a_generated_page_of_custom_rows_answers_select_filter_orderby_and_count() {
    let dataverse = dataverse(true);
    let all = get(
        &dataverse,
        "/api/data/v9.2/cr7a1_assets?$select=cr7a1_name,cr7a1_cost&$count=true",
        Some(&token(IMPORTER)),
    )
    .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    let all = all.json();
    assert_eq!(all["@odata.count"], ASSETS);
    let first = &all["value"][0];
    assert!(first["cr7a1_name"].is_string(), "{first}");
    assert!(first["cr7a1_assetid"].is_string(), "{first}");
    assert!(first.get("cr7a1_serialnumber").is_none(), "{first}");
    let kind = 100_000_001;
    let filtered = get(
        &dataverse,
        &format!(
            "/api/data/v9.2/cr7a1_assets?$select=cr7a1_name,cr7a1_kind&$filter=cr7a1_kind%20eq%20{kind}&$orderby=cr7a1_name%20desc&$top=5"
        ),
        Some(&token(IMPORTER)),
    )
    .await;
    assert_eq!(filtered.status, StatusCode::OK, "{}", filtered.text);
    let rows = filtered.json()["value"].as_array().expect("value").clone();
    assert!(!rows.is_empty() && rows.len() <= 5, "{rows:?}");
    assert!(rows.iter().all(|row| row["cr7a1_kind"] == kind));
    let names: Vec<&str> = rows
        .iter()
        .map(|row| row["cr7a1_name"].as_str().expect("name"))
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted);
}

#[tokio::test]
async fn without_the_read_privilege_the_custom_table_is_refused_by_name() {
    let answer = get(
        &dataverse(false),
        "/api/data/v9.2/cr7a1_assets?$select=cr7a1_name",
        Some(&token(IMPORTER)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["error"]["code"], "0x80040220");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("is missing prvReadcr7a1_Asset privilege (Id=")
            && message.contains("on OTC=10000 for entity 'cr7a1_asset' (LocalizedName='Asset')"),
        "{message}"
    );
}

#[tokio::test]
async fn custom_rows_page_through_next_links_and_filter_on_their_lookups() {
    let dataverse = dataverse(true);
    let mut path = "/api/data/v9.2/cr7a1_assets?$select=cr7a1_name,_cr7a1_account_value".to_owned();
    let mut seen = std::collections::BTreeSet::new();
    let mut pages = 0;
    let mut account = None;
    loop {
        let request = Request::get(path.as_str())
            .header("authorization", format!("Bearer {}", token(IMPORTER)))
            .header("prefer", "odata.maxpagesize=12")
            .body(Bytes::new())
            .expect("request");
        let answer = send(&dataverse, request).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let body = answer.json();
        for row in body["value"].as_array().expect("value") {
            seen.insert(row["cr7a1_assetid"].as_str().expect("id").to_owned());
            if let Some(id) = row["_cr7a1_account_value"].as_str() {
                account.get_or_insert_with(|| id.to_owned());
            }
        }
        pages += 1;
        match body["@odata.nextLink"].as_str() {
            Some(next) => {
                path = next
                    .strip_prefix("https://contoso.crm.dynamics.com")
                    .expect("same base")
                    .to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len() as u64, ASSETS);
    let account = account.expect("some asset points at an account");
    let filtered = get(
        &dataverse,
        &format!(
            "/api/data/v9.2/cr7a1_assets?$select=_cr7a1_account_value&$filter=_cr7a1_account_value%20eq%20{account}"
        ),
        Some(&token(IMPORTER)),
    )
    .await;
    assert_eq!(filtered.status, StatusCode::OK, "{}", filtered.text);
    let rows = filtered.json()["value"].as_array().expect("value").clone();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|row| row["_cr7a1_account_value"] == account.as_str())
    );
}

#[test]
fn a_custom_table_may_not_take_a_standard_tables_entity_set() {
    let mut config = config();
    config.environments[0].tables = vec![
        Table {
            definition: crate::standard_tables::standard_table("account").expect("account"),
            data: TableData::Generated { count: 1 },
        },
        Table {
            definition: CustomTable {
                entity_set_name: "accounts".into(),
                ..asset()
            }
            .definition(),
            data: TableData::Generated { count: 1 },
        },
    ];
    let text = service(config).expect_err("a clash").to_string();
    assert_eq!(
        text,
        "invalid fake Dataverse configuration: environment `contoso.crm.dynamics.com` has two tables named `accounts`"
    );
}
