//! `$metadata` is well-formed and closed: every type it names is declared in it, every served
//! function is declared (and imported when unbound), and the parts written by hand before the
//! XML writer came in are unchanged.

use std::collections::BTreeSet;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::write_csdl;
use crate::functions::FUNCTIONS;
use crate::schema::TableDefinition;
use crate::standard_tables::standard_tables;

/// The OData 4.0 primitive types (CSDL §4.4).
const EDM_PRIMITIVES: &[&str] = &[
    "Edm.Binary",
    "Edm.Boolean",
    "Edm.Byte",
    "Edm.Date",
    "Edm.DateTimeOffset",
    "Edm.Decimal",
    "Edm.Double",
    "Edm.Duration",
    "Edm.Guid",
    "Edm.Int16",
    "Edm.Int32",
    "Edm.Int64",
    "Edm.SByte",
    "Edm.Single",
    "Edm.Stream",
    "Edm.String",
    "Edm.TimeOfDay",
];

/// What the document declares and what it refers to.
#[derive(Default)]
struct Document {
    /// `mscrm.account`, `mscrm.WhoAmIResponse`, `mscrm.AccessRights`, ...
    types: BTreeSet<String>,
    /// `Microsoft.Dynamics.CRM.WhoAmI` (with `true` when bound).
    functions: BTreeSet<(String, bool)>,
    /// Every `Type`/`EntityType` attribute value, with the element it was on.
    type_references: Vec<(String, String)>,
    /// Every `FunctionImport`'s `Function`.
    imports: BTreeSet<String>,
}

fn attribute(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element
        .try_get_attribute(name)
        .expect("well-formed attributes")
        .map(|attribute| {
            attribute
                .unescape_value()
                .expect("valid escapes")
                .into_owned()
        })
}

fn parse(xml: &str) -> Document {
    let mut reader = Reader::from_str(xml);
    let mut document = Document::default();
    let mut depth = 0_i32;
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let (element, opens) = match &event {
            Event::Start(element) => (element.clone(), true),
            Event::Empty(element) => (element.clone(), false),
            Event::End(_) => {
                depth -= 1;
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        if opens {
            depth += 1;
        }
        let tag = String::from_utf8_lossy(element.name().as_ref()).into_owned();
        match tag.as_str() {
            "EntityType" | "ComplexType" | "EnumType" => {
                let name = attribute(&element, "Name").expect("a Name");
                document.types.insert(format!("mscrm.{name}"));
            }
            "Function" => {
                let name = attribute(&element, "Name").expect("a Name");
                let bound = attribute(&element, "IsBound").as_deref() == Some("true");
                document
                    .functions
                    .insert((format!("Microsoft.Dynamics.CRM.{name}"), bound));
            }
            "FunctionImport" => {
                document
                    .imports
                    .insert(attribute(&element, "Function").expect("a Function"));
            }
            _ => {}
        }
        for name in ["Type", "EntityType"] {
            if let Some(value) = attribute(&element, name) {
                document.type_references.push((tag.clone(), value));
            }
        }
    }
    assert_eq!(depth, 0, "every element is closed");
    document
}

fn document_of(tables: &[TableDefinition]) -> (String, Document) {
    let tables: Vec<&TableDefinition> = tables.iter().collect();
    let xml = String::from_utf8(write_csdl(&tables).expect("writes")).expect("UTF-8");
    let document = parse(&xml);
    (xml, document)
}

#[test]
fn every_type_the_metadata_names_is_declared_in_it() {
    let (_, document) = document_of(&standard_tables());
    for (element, reference) in &document.type_references {
        let reference = reference
            .strip_prefix("Collection(")
            .and_then(|inner| inner.strip_suffix(')'))
            .unwrap_or(reference);
        let reference = reference.replace("Microsoft.Dynamics.CRM.", "mscrm.");
        assert!(
            EDM_PRIMITIVES.contains(&reference.as_str()) || document.types.contains(&reference),
            "<{element}> names `{reference}`, which $metadata does not declare"
        );
    }
}

#[test]
fn every_served_function_is_declared_and_every_unbound_one_imported() {
    let (_, document) = document_of(&standard_tables());
    for function in FUNCTIONS {
        let qualified = format!("Microsoft.Dynamics.CRM.{}", function.name);
        assert!(
            document
                .functions
                .contains(&(qualified.clone(), function.is_bound())),
            "`{}` is served but not declared",
            function.name
        );
        assert_eq!(
            document.imports.contains(&qualified),
            !function.is_bound(),
            "`{}`: unbound functions and only they are imported",
            function.name
        );
    }
    assert_eq!(
        document.functions.len(),
        FUNCTIONS.len(),
        "nothing declared is unserved"
    );
    assert!(document.functions.contains(&(
        "Microsoft.Dynamics.CRM.RetrievePrincipalAccess".into(),
        true
    )));
}

#[test]
fn navigation_properties_to_tables_the_environment_lacks_are_left_out() {
    let account = standard_tables()
        .into_iter()
        .find(|table| table.logical_name == "account")
        .expect("account");
    let (xml, document) = document_of(&[account]);
    for (element, reference) in &document.type_references {
        if element == "NavigationProperty" {
            let target = reference
                .strip_prefix("Collection(")
                .and_then(|inner| inner.strip_suffix(')'))
                .unwrap_or(reference);
            assert_eq!(target, "mscrm.account", "{xml}");
        }
    }
}

#[test]
fn the_parts_written_by_hand_before_are_unchanged() {
    let (xml, _) = document_of(&standard_tables());
    for part in [
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\"><edmx:DataServices><Schema Namespace=\"Microsoft.Dynamics.CRM\" Alias=\"mscrm\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\"><EntityType Name=\"account\"><Key><PropertyRef Name=\"accountid\" /></Key>",
        "<ComplexType Name=\"WhoAmIResponse\"><Property Name=\"BusinessUnitId\" Type=\"Edm.Guid\" Nullable=\"false\" /><Property Name=\"UserId\" Type=\"Edm.Guid\" Nullable=\"false\" /><Property Name=\"OrganizationId\" Type=\"Edm.Guid\" Nullable=\"false\" /></ComplexType>",
        "<ComplexType Name=\"RetrieveVersionResponse\"><Property Name=\"Version\" Type=\"Edm.String\" Unicode=\"false\" /></ComplexType>",
        "<Function Name=\"WhoAmI\"><ReturnType Type=\"mscrm.WhoAmIResponse\" Nullable=\"false\" /></Function>",
        "<Function Name=\"RetrieveVersion\"><ReturnType Type=\"mscrm.RetrieveVersionResponse\" Nullable=\"false\" /></Function>",
        "<Function Name=\"RetrieveCurrentOrganization\"><Parameter Name=\"AccessType\" Type=\"mscrm.EndpointAccessType\" Nullable=\"false\" /><ReturnType Type=\"mscrm.RetrieveCurrentOrganizationResponse\" Nullable=\"false\" /></Function>",
        "<Function Name=\"RetrieveUserPrivileges\" IsBound=\"true\"><Parameter Name=\"entity\" Type=\"mscrm.systemuser\" Nullable=\"false\" /><ReturnType Type=\"mscrm.RetrieveUserPrivilegesResponse\" Nullable=\"false\" /></Function>",
        "<EntityContainer Name=\"System\"><EntitySet Name=\"accounts\" EntityType=\"Microsoft.Dynamics.CRM.account\" />",
        "<FunctionImport Name=\"WhoAmI\" Function=\"Microsoft.Dynamics.CRM.WhoAmI\" /><FunctionImport Name=\"RetrieveVersion\" Function=\"Microsoft.Dynamics.CRM.RetrieveVersion\" /><FunctionImport Name=\"RetrieveCurrentOrganization\" Function=\"Microsoft.Dynamics.CRM.RetrieveCurrentOrganization\" /></EntityContainer></Schema></edmx:DataServices></edmx:Edmx>",
    ] {
        assert!(xml.contains(part), "missing {part}\nin {xml}");
    }
}
