//! Metadata documents in-process.

use super::*;
use crate::standard_tables;

fn dataverse() -> std::sync::Arc<Dataverse> {
    let mut config = config();
    config.environments[0].tables = ["account", "contact"]
        .into_iter()
        .map(|name| Table {
            definition: standard_tables::standard_table(name).expect("a standard table"),
            data: TableData::Generated { count: 3 },
        })
        .collect();
    service(config).expect("valid config")
}

async fn get_ok(dataverse: &Dataverse, path: &str) -> Answer {
    let answer = get(dataverse, path, Some(&token(IMPORTER))).await;
    assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
    answer
}

#[tokio::test]
async fn entity_definitions_select_and_filter_like_the_python_client() {
    let dataverse = dataverse();
    // The Microsoft Python client sends `$` as %24 and spaces as `+`.
    let path = "/api/data/v9.2/EntityDefinitions?%24select=LogicalName%2CEntitySetName%2CPrimaryIdAttribute&%24filter=LogicalName+eq+%27account%27";
    let body = get_ok(&dataverse, path).await.json();
    assert_eq!(
        body,
        json!({
            "@odata.context": "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#EntityDefinitions(LogicalName,EntitySetName,PrimaryIdAttribute)",
            "value": [{"LogicalName": "account", "EntitySetName": "accounts", "PrimaryIdAttribute": "accountid", "MetadataId": "70816501-edb9-4740-a16c-6a5efbc05d84"}],
        })
    );
    let all = get_ok(
        &dataverse,
        "/api/data/v9.2/EntityDefinitions?$select=EntitySetName,LogicalName",
    )
    .await
    .json();
    assert_eq!(all["value"].as_array().expect("value").len(), 2);
    let none = get_ok(
        &dataverse,
        "/api/data/v9.2/EntityDefinitions?$filter=LogicalName%20eq%20'nothing'",
    )
    .await
    .json();
    assert_eq!(none["value"], json!([]));
    let bad = get(
        &dataverse,
        "/api/data/v9.2/EntityDefinitions?$select=Logicalname",
        Some(&token(IMPORTER)),
    )
    .await;
    assert_error(
        &bad,
        400,
        "0x80060888",
        "Could not find a property named 'Logicalname' on type 'Microsoft.Dynamics.CRM.EntityMetadata'.",
    );
    let unsupported = get(
        &dataverse,
        "/api/data/v9.2/EntityDefinitions?$filter=contains(LogicalName,'acc')",
        Some(&token(IMPORTER)),
    )
    .await;
    assert_eq!(unsupported.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_single_definition_and_its_attributes() {
    let dataverse = dataverse();
    let body = get_ok(
        &dataverse,
        "/api/data/v9.2/EntityDefinitions(LogicalName='account')?$select=LogicalName,DisplayName",
    )
    .await
    .json();
    assert_eq!(
        body["@odata.context"],
        "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#EntityDefinitions(LogicalName,DisplayName)/$entity"
    );
    assert_eq!(
        body["DisplayName"]["UserLocalizedLabel"]["Label"],
        "Account"
    );
    assert_eq!(
        body["DisplayName"]["LocalizedLabels"][0]["LanguageCode"],
        1033
    );
    let attributes = get_ok(
        &dataverse,
        "/api/data/v9.2/EntityDefinitions(LogicalName='account')/Attributes",
    )
    .await
    .json();
    let name = attributes["value"]
        .as_array()
        .expect("value")
        .iter()
        .find(|attribute| attribute["LogicalName"] == "primarycontactid")
        .expect("the lookup")
        .clone();
    assert_eq!(
        name["@odata.type"],
        "#Microsoft.Dynamics.CRM.LookupAttributeMetadata"
    );
    assert_eq!(name["Targets"], json!(["contact"]));
    let missing = get(
        &dataverse,
        "/api/data/v9.2/EntityDefinitions(LogicalName='nothing')",
        Some(&token(IMPORTER)),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn service_document_and_csdl_describe_the_tables() {
    let dataverse = dataverse();
    let body = get_ok(&dataverse, "/api/data/v9.2/").await.json();
    assert_eq!(
        body["value"][0],
        json!({"name": "accounts", "kind": "EntitySet", "url": "accounts"})
    );
    let csdl = get_ok(&dataverse, "/api/data/v9.2/$metadata").await;
    assert_eq!(csdl.headers["content-type"], "application/xml");
    assert!(
        csdl.text.contains(
            "<EntitySet Name=\"accounts\" EntityType=\"Microsoft.Dynamics.CRM.account\" />"
        )
    );
    assert!(
        csdl.text
            .contains("<Property Name=\"_primarycontactid_value\" Type=\"Edm.Guid\" />")
    );
    assert!(csdl.text.contains("<Function Name=\"WhoAmI\">"));
}
