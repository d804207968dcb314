//! `$metadata`: the CSDL document of the environment's tables and the functions this fake
//! serves, written with quick-xml's `Writer` (escaping done by the writer, not by hand). The
//! functions come from `functions::FUNCTIONS`; the complex and enum types they name are
//! declared here, and `csdl/tests.rs` proves every type the document names is declared in it.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};

use crate::call::{Answer, Call};
use crate::errors::ErrorCode;
use crate::functions::FUNCTIONS;
use crate::response::{self, ApiError};
use crate::schema::{ColumnKind, TableDefinition};

/// A property of a complex type, with its extra facets (`Nullable`, `Unicode`).
struct Property {
    name: &'static str,
    type_name: &'static str,
    facets: &'static [(&'static str, &'static str)],
}

/// A complex type the functions return.
struct ComplexType {
    name: &'static str,
    properties: &'static [Property],
}

/// An enum type the functions take or return; `is_flags` for `AccessRights`.
struct EnumType {
    name: &'static str,
    is_flags: bool,
    members: &'static [(&'static str, &'static str)],
}

const NOT_NULL: &[(&str, &str)] = &[("Nullable", "false")];

/// The response types of [`FUNCTIONS`] and the types inside them, shaped like the handlers'
/// answers.
const COMPLEX_TYPES: &[ComplexType] = &[
    ComplexType {
        name: "WhoAmIResponse",
        properties: &[
            Property {
                name: "BusinessUnitId",
                type_name: "Edm.Guid",
                facets: NOT_NULL,
            },
            Property {
                name: "UserId",
                type_name: "Edm.Guid",
                facets: NOT_NULL,
            },
            Property {
                name: "OrganizationId",
                type_name: "Edm.Guid",
                facets: NOT_NULL,
            },
        ],
    },
    ComplexType {
        name: "RetrieveVersionResponse",
        properties: &[Property {
            name: "Version",
            type_name: "Edm.String",
            facets: &[("Unicode", "false")],
        }],
    },
    ComplexType {
        name: "RetrieveCurrentOrganizationResponse",
        properties: &[Property {
            name: "Detail",
            type_name: "mscrm.OrganizationDetail",
            facets: NOT_NULL,
        }],
    },
    ComplexType {
        name: "OrganizationDetail",
        properties: &[
            Property {
                name: "OrganizationId",
                type_name: "Edm.Guid",
                facets: NOT_NULL,
            },
            Property {
                name: "FriendlyName",
                type_name: "Edm.String",
                facets: &[],
            },
            Property {
                name: "OrganizationVersion",
                type_name: "Edm.String",
                facets: &[],
            },
            Property {
                name: "EnvironmentId",
                type_name: "Edm.String",
                facets: &[],
            },
            Property {
                name: "DatacenterId",
                type_name: "Edm.Guid",
                facets: NOT_NULL,
            },
            Property {
                name: "Geo",
                type_name: "Edm.String",
                facets: &[],
            },
            Property {
                name: "TenantId",
                type_name: "Edm.String",
                facets: &[],
            },
            Property {
                name: "UrlName",
                type_name: "Edm.String",
                facets: &[],
            },
            Property {
                name: "UniqueName",
                type_name: "Edm.String",
                facets: &[],
            },
            Property {
                name: "State",
                type_name: "mscrm.OrganizationState",
                facets: NOT_NULL,
            },
            Property {
                name: "Endpoints",
                type_name: "mscrm.EndpointCollection",
                facets: &[],
            },
        ],
    },
    ComplexType {
        name: "EndpointCollection",
        properties: &[
            Property {
                name: "Count",
                type_name: "Edm.Int32",
                facets: NOT_NULL,
            },
            Property {
                name: "IsReadOnly",
                type_name: "Edm.Boolean",
                facets: NOT_NULL,
            },
            Property {
                name: "Keys",
                type_name: "Collection(mscrm.EndpointType)",
                facets: &[],
            },
            Property {
                name: "Values",
                type_name: "Collection(Edm.String)",
                facets: &[],
            },
        ],
    },
    ComplexType {
        name: "RetrieveUserPrivilegesResponse",
        properties: &[Property {
            name: "RolePrivileges",
            type_name: "Collection(mscrm.RolePrivilege)",
            facets: &[],
        }],
    },
    ComplexType {
        name: "RolePrivilege",
        properties: &[
            Property {
                name: "Depth",
                type_name: "mscrm.PrivilegeDepth",
                facets: NOT_NULL,
            },
            Property {
                name: "PrivilegeId",
                type_name: "Edm.Guid",
                facets: NOT_NULL,
            },
            Property {
                name: "BusinessUnitId",
                type_name: "Edm.Guid",
                facets: NOT_NULL,
            },
            Property {
                name: "PrivilegeName",
                type_name: "Edm.String",
                facets: &[],
            },
        ],
    },
    ComplexType {
        name: "RetrievePrincipalAccessResponse",
        properties: &[Property {
            name: "AccessRights",
            type_name: "mscrm.AccessRights",
            facets: NOT_NULL,
        }],
    },
];

/// The enum types the functions and their complex types name (member values from the Web API
/// reference's enum types; the fake's answers spell members by name, so values are never used).
const ENUM_TYPES: &[EnumType] = &[
    EnumType {
        name: "EndpointAccessType",
        is_flags: false,
        members: &[("Default", "0"), ("Internet", "1"), ("Intranet", "2")],
    },
    EnumType {
        name: "OrganizationState",
        is_flags: false,
        members: &[("Enabled", "0"), ("Disabled", "1")],
    },
    EnumType {
        name: "EndpointType",
        is_flags: false,
        members: &[
            ("OrganizationService", "0"),
            ("OrganizationDataService", "1"),
            ("WebApplication", "2"),
        ],
    },
    EnumType {
        name: "PrivilegeDepth",
        is_flags: false,
        members: &[
            ("Basic", "0"),
            ("Local", "1"),
            ("Deep", "2"),
            ("Global", "3"),
        ],
    },
    EnumType {
        name: "AccessRights",
        is_flags: true,
        members: &[
            ("None", "0"),
            ("ReadAccess", "1"),
            ("WriteAccess", "2"),
            ("AppendAccess", "4"),
            ("AppendToAccess", "16"),
            ("CreateAccess", "32"),
            ("DeleteAccess", "65536"),
            ("ShareAccess", "262144"),
            ("AssignAccess", "524288"),
        ],
    },
];

/// `$metadata`: CSDL for the environment's tables and the functions this fake serves.
pub(crate) fn csdl(call: &Call<'_>) -> Answer {
    let tables: Vec<&TableDefinition> = call
        .environment
        .tables
        .iter()
        .map(|table| &table.definition)
        .collect();
    let xml = write_csdl(&tables).map_err(|error| {
        ApiError::new(
            ErrorCode::Unexpected,
            format!("failed to write $metadata: {error}"),
        )
    })?;
    let xml = String::from_utf8(xml).map_err(|error| {
        ApiError::new(
            ErrorCode::Unexpected,
            format!("failed to write $metadata: {error}"),
        )
    })?;
    Ok(response::xml(xml, call.exchange))
}

/// Writes one XML element at a time; empty elements end in ` />` as Dataverse's do.
struct Csdl {
    writer: Writer<Vec<u8>>,
}

impl Csdl {
    fn open(&mut self, name: &str, attributes: &[(&str, &str)]) -> io::Result<()> {
        self.writer
            .write_event(Event::Start(element(name, attributes)))
    }

    fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) -> io::Result<()> {
        self.writer
            .write_event(Event::Empty(element(name, attributes)))
    }

    fn close(&mut self, name: &str) -> io::Result<()> {
        self.writer.write_event(Event::End(BytesEnd::new(name)))
    }
}

fn element<'a>(name: &'a str, attributes: &[(&'a str, &'a str)]) -> BytesStart<'a> {
    let mut element = BytesStart::new(name);
    element.extend_attributes(attributes.iter().copied());
    element
}

/// The CSDL document for `tables`. A navigation property whose target is not among `tables`
/// is left out: the document would name an undeclared type.
pub(crate) fn write_csdl(tables: &[&TableDefinition]) -> io::Result<Vec<u8>> {
    let mut writer = Writer::new(Vec::new());
    writer.config_mut().add_space_before_slash_in_empty_elements = true;
    let mut xml = Csdl { writer };
    xml.writer
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    xml.open(
        "edmx:Edmx",
        &[
            ("Version", "4.0"),
            ("xmlns:edmx", "http://docs.oasis-open.org/odata/ns/edmx"),
        ],
    )?;
    xml.open("edmx:DataServices", &[])?;
    xml.open(
        "Schema",
        &[
            ("Namespace", "Microsoft.Dynamics.CRM"),
            ("Alias", "mscrm"),
            ("xmlns", "http://docs.oasis-open.org/odata/ns/edm"),
        ],
    )?;
    let declared = |name: &str| tables.iter().any(|table| table.logical_name == name);
    for table in tables {
        xml.open("EntityType", &[("Name", &table.logical_name)])?;
        xml.open("Key", &[])?;
        xml.empty("PropertyRef", &[("Name", &table.primary_id_attribute)])?;
        xml.close("Key")?;
        for column in &table.columns {
            xml.empty(
                "Property",
                &[
                    ("Name", &column.web_api_name()),
                    ("Type", column.edm_type()),
                ],
            )?;
        }
        for column in &table.columns {
            if let ColumnKind::Lookup { targets } = &column.kind
                && let Some(target) = targets.first()
                && declared(target)
            {
                xml.empty(
                    "NavigationProperty",
                    &[
                        ("Name", &column.logical_name),
                        ("Type", &format!("mscrm.{target}")),
                    ],
                )?;
            }
        }
        for navigation in &table.collection_navigation {
            if declared(&navigation.target) {
                xml.empty(
                    "NavigationProperty",
                    &[
                        ("Name", &navigation.name),
                        ("Type", &format!("Collection(mscrm.{})", navigation.target)),
                    ],
                )?;
            }
        }
        xml.close("EntityType")?;
    }
    // The base type of every table: `RetrievePrincipalAccess` takes any row as `Target`.
    xml.empty(
        "EntityType",
        &[("Name", "crmbaseentity"), ("Abstract", "true")],
    )?;
    for complex in COMPLEX_TYPES {
        xml.open("ComplexType", &[("Name", complex.name)])?;
        for property in complex.properties {
            let mut attributes = vec![("Name", property.name), ("Type", property.type_name)];
            attributes.extend_from_slice(property.facets);
            xml.empty("Property", &attributes)?;
        }
        xml.close("ComplexType")?;
    }
    for enumeration in ENUM_TYPES {
        let mut attributes = vec![("Name", enumeration.name)];
        if enumeration.is_flags {
            attributes.push(("IsFlags", "true"));
        }
        xml.open("EnumType", &attributes)?;
        for (name, value) in enumeration.members {
            xml.empty("Member", &[("Name", name), ("Value", value)])?;
        }
        xml.close("EnumType")?;
    }
    for function in FUNCTIONS {
        if function.is_bound() {
            xml.open("Function", &[("Name", function.name), ("IsBound", "true")])?;
        } else {
            xml.open("Function", &[("Name", function.name)])?;
        }
        for parameter in function.parameters {
            xml.empty(
                "Parameter",
                &[
                    ("Name", parameter.name),
                    ("Type", parameter.type_name),
                    ("Nullable", "false"),
                ],
            )?;
        }
        xml.empty(
            "ReturnType",
            &[("Type", function.return_type), ("Nullable", "false")],
        )?;
        xml.close("Function")?;
    }
    xml.open("EntityContainer", &[("Name", "System")])?;
    for table in tables {
        xml.empty(
            "EntitySet",
            &[
                ("Name", &table.entity_set_name),
                (
                    "EntityType",
                    &format!("Microsoft.Dynamics.CRM.{}", table.logical_name),
                ),
            ],
        )?;
    }
    for function in FUNCTIONS.iter().filter(|function| !function.is_bound()) {
        xml.empty(
            "FunctionImport",
            &[
                ("Name", function.name),
                (
                    "Function",
                    &format!("Microsoft.Dynamics.CRM.{}", function.name),
                ),
            ],
        )?;
    }
    xml.close("EntityContainer")?;
    xml.close("Schema")?;
    xml.close("edmx:DataServices")?;
    xml.close("edmx:Edmx")?;
    Ok(xml.writer.into_inner())
}

#[cfg(test)]
mod tests;
