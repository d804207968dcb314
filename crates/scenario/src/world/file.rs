//! The world file as written: serde types that mirror the TOML one to one, with spans on every
//! value the validator may complain about. Nothing here checks meaning; `validate.rs` does.
//! Unknown fields are errors: we write every world file, so a typo must fail loudly.
//! `[[faults]]` is the exception to "mirror": it deserializes straight into
//! `fake_core::FaultRule`, and [`FaultSpans`] reads the file again for positions.

use std::marker::PhantomData;

use fake_core::FaultRule;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorldFile {
    /// Required here; its value is checked by [`VersionProbe`] before this type is parsed.
    #[expect(
        dead_code,
        reason = "only its presence matters once the probe has passed"
    )]
    pub(crate) version: IgnoredAny,
    /// Other key files than the committed test key.
    #[serde(default)]
    pub(crate) signing_key: Option<SigningKeyFile>,
    /// `[tenants.<key>]`, in file order.
    #[serde(default)]
    pub(crate) tenants: Entries<TenantFile>,
    /// `[apps.<key>]`, in file order.
    #[serde(default)]
    pub(crate) apps: Entries<AppFile>,
    /// `[environments.<key>]`: Dataverse environments, in file order.
    #[serde(default)]
    pub(crate) environments: Entries<EnvironmentFile>,
    /// `[entra]`: the fake Entra ID's behaviour knobs.
    #[serde(default)]
    pub(crate) entra: Option<EntraFile>,
    /// `[dataverse]`: the fake Dataverse's switches.
    #[serde(default)]
    pub(crate) dataverse: Option<DataverseFile>,
    /// `[[faults]]`, in fake-core's own shape.
    #[serde(default)]
    pub(crate) faults: Vec<FaultRule>,
}

/// Just the version, read before the rest so that a file from a newer harness fails on its
/// version rather than on the first field this one does not know.
#[derive(Deserialize)]
pub(crate) struct VersionProbe {
    pub(crate) version: Option<Spanned<toml::Value>>,
}

/// `[signing_key]`: PEM files relative to the world file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SigningKeyFile {
    pub(crate) key: Spanned<String>,
    pub(crate) certificate: Spanned<String>,
}

/// `[tenants.<key>]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantFile {
    pub(crate) id: Spanned<String>,
    pub(crate) domains: Vec<Spanned<String>>,
    pub(crate) display_name: Spanned<String>,
    pub(crate) dynamics: bool,
    pub(crate) dynamics_enabled: Option<Spanned<bool>>,
    pub(crate) region_scope: Option<Spanned<String>>,
}

/// `[apps.<key>]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppFile {
    pub(crate) client_id: Spanned<String>,
    pub(crate) display_name: Spanned<String>,
    pub(crate) home_tenant: Spanned<String>,
    #[serde(default)]
    pub(crate) multi_tenant: bool,
    #[serde(default = "yes")]
    pub(crate) enabled: bool,
    #[serde(default)]
    pub(crate) service_principals: Vec<ServicePrincipalFile>,
    #[serde(default)]
    pub(crate) secrets: Vec<SecretFile>,
    #[serde(default)]
    pub(crate) certificates: Vec<CertificateFile>,
    #[serde(default)]
    pub(crate) permissions: Vec<PermissionFile>,
}

/// One entry of `service_principals`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServicePrincipalFile {
    pub(crate) tenant: Spanned<String>,
    pub(crate) object_id: Option<Spanned<String>>,
    #[serde(default = "yes")]
    pub(crate) enabled: bool,
    /// Deleted from this tenant (what `remove_service_principal` writes).
    pub(crate) removed: Option<Spanned<bool>>,
}

/// One entry of `secrets`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretFile {
    pub(crate) name: Spanned<String>,
    pub(crate) id: Option<Spanned<String>>,
    pub(crate) value: Spanned<String>,
    pub(crate) expires: Spanned<String>,
}

/// One entry of `certificates`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CertificateFile {
    pub(crate) name: Spanned<String>,
    /// A PEM file relative to the world file; exactly one of `file` and `pem`.
    pub(crate) file: Option<Spanned<String>>,
    /// The PEM text itself, so that a world file can stand alone (`world export`).
    pub(crate) pem: Option<Spanned<String>>,
    pub(crate) start: Option<Spanned<String>>,
    pub(crate) end: Option<Spanned<String>>,
}

/// One entry of `permissions`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PermissionFile {
    pub(crate) api: Spanned<String>,
    pub(crate) scope: Spanned<String>,
    #[serde(rename = "type")]
    pub(crate) kind: PermissionKindFile,
    pub(crate) admin_consent: bool,
}

/// `type` of a permission.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PermissionKindFile {
    Delegated,
    Application,
}

/// `[entra]`. Every knob is optional; absent ones keep `fake_entra::Config::new`'s default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntraFile {
    #[serde(default)]
    pub(crate) aliases: Vec<Spanned<String>>,
    pub(crate) token_lifetime_seconds: Option<Spanned<i64>>,
    pub(crate) trailer_separator: Option<TrailerSeparatorFile>,
    pub(crate) common_tenant: Option<CommonTenantFile>,
    pub(crate) resources: Option<ResourcesFile>,
    pub(crate) rate_limit: Option<RateLimitFile>,
    #[serde(default)]
    pub(crate) forced_errors: Vec<ForcedErrorFile>,
    #[serde(default)]
    pub(crate) message_overrides: Entries<Spanned<String>>,
    pub(crate) require_form_content_type: Option<bool>,
    pub(crate) assertion_replay: Option<AssertionReplayFile>,
}

/// `assertion_replay`: the string `"accept"` or the table `{ reject = <capacity> }`.
pub(crate) enum AssertionReplayFile {
    Accept,
    Reject(Spanned<i64>),
}

/// The only string `assertion_replay` may be.
const ACCEPT: &str = "accept";

/// The only key of `assertion_replay`'s table form.
const REJECT: &str = "reject";

impl<'de> Deserialize<'de> for AssertionReplayFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AssertionReplayFile, D::Error> {
        struct ReplayVisitor;

        impl<'de> Visitor<'de> for ReplayVisitor {
            type Value = AssertionReplayFile;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(formatter, "`\"{ACCEPT}\"` or `{{ {REJECT} = <capacity> }}`")
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<AssertionReplayFile, E> {
                if value == ACCEPT {
                    Ok(AssertionReplayFile::Accept)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(value), &self))
                }
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<AssertionReplayFile, A::Error> {
                let mut capacity = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != REJECT {
                        return Err(serde::de::Error::unknown_field(&key, &[REJECT]));
                    }
                    if capacity.is_some() {
                        return Err(serde::de::Error::duplicate_field(REJECT));
                    }
                    capacity = Some(map.next_value::<Spanned<i64>>()?);
                }
                capacity
                    .map(AssertionReplayFile::Reject)
                    .ok_or_else(|| serde::de::Error::missing_field(REJECT))
            }
        }

        deserializer.deserialize_any(ReplayVisitor)
    }
}

/// `trailer_separator`.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TrailerSeparatorFile {
    Space,
    Crlf,
}

/// `common_tenant`.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CommonTenantFile {
    NoTenantError,
    HomeTenant,
}

/// `resources`: the string `"any_dynamics_host"` or a list of resource URIs.
pub(crate) enum ResourcesFile {
    AnyDynamicsHost,
    Listed(Vec<Spanned<String>>),
}

/// The only string `resources` may be.
const ANY_DYNAMICS_HOST: &str = "any_dynamics_host";

impl<'de> Deserialize<'de> for ResourcesFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ResourcesFile, D::Error> {
        struct ResourcesVisitor;

        impl<'de> Visitor<'de> for ResourcesVisitor {
            type Value = ResourcesFile;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(
                    formatter,
                    "`\"{ANY_DYNAMICS_HOST}\"` or an array of resource URIs"
                )
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<ResourcesFile, E> {
                if value == ANY_DYNAMICS_HOST {
                    Ok(ResourcesFile::AnyDynamicsHost)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(value), &self))
                }
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ResourcesFile, A::Error> {
                let mut listed = Vec::new();
                while let Some(resource) = seq.next_element()? {
                    listed.push(resource);
                }
                Ok(ResourcesFile::Listed(listed))
            }
        }

        deserializer.deserialize_any(ResourcesVisitor)
    }
}

/// `rate_limit`. Integers are read wide so that a negative value gets the range message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitFile {
    pub(crate) requests: Spanned<i64>,
    pub(crate) window_seconds: Spanned<i64>,
}

/// One entry of `forced_errors`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ForcedErrorFile {
    pub(crate) error: Spanned<String>,
    pub(crate) client_id: Option<Spanned<String>>,
    pub(crate) tenant: Option<Spanned<String>>,
    pub(crate) nth: Option<Spanned<i64>>,
    pub(crate) times: Option<Spanned<i64>>,
}

/// `[environments.<key>]`: one Dataverse environment.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvironmentFile {
    pub(crate) url: Spanned<String>,
    pub(crate) tenant: Spanned<String>,
    pub(crate) organization_id: Option<Spanned<String>>,
    pub(crate) environment_id: Option<Spanned<String>>,
    pub(crate) friendly_name: Option<Spanned<String>>,
    pub(crate) unique_name: Option<Spanned<String>>,
    pub(crate) version: Option<Spanned<String>>,
    pub(crate) geo: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) admin_mode: bool,
    pub(crate) data_seed: Option<Spanned<i64>>,
    pub(crate) business_units: Option<Spanned<Vec<BusinessUnitFile>>>,
    /// `roles.<name>`, in file order.
    #[serde(default)]
    pub(crate) roles: Entries<RoleFile>,
    #[serde(default)]
    pub(crate) application_users: Vec<ApplicationUserFile>,
    #[serde(default)]
    pub(crate) teams: Vec<TeamFile>,
    /// `custom_tables.<logical_name>`: tables the world defines, in file order.
    #[serde(default)]
    pub(crate) custom_tables: Entries<CustomTableFile>,
    /// `tables.<logical_name>`, in file order.
    #[serde(default)]
    pub(crate) tables: Entries<TableFile>,
    pub(crate) limits: Option<LimitsFile>,
    #[serde(default)]
    pub(crate) forced_throttles: Vec<ForcedThrottleFile>,
}

/// One entry of `business_units`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BusinessUnitFile {
    pub(crate) name: Spanned<String>,
    pub(crate) parent: Option<Spanned<String>>,
    pub(crate) id: Option<Spanned<String>>,
}

/// `roles.<name>`: a security role the world defines.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleFile {
    pub(crate) id: Option<Spanned<String>>,
    pub(crate) business_unit: Option<Spanned<String>>,
    /// Privilege name → depth, in file order.
    #[serde(default)]
    pub(crate) privileges: Entries<Spanned<String>>,
}

/// One entry of `application_users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApplicationUserFile {
    pub(crate) app: Spanned<String>,
    #[serde(default)]
    pub(crate) roles: Vec<Spanned<String>>,
    pub(crate) business_unit: Option<Spanned<String>>,
    #[serde(default = "yes")]
    pub(crate) enabled: bool,
    pub(crate) id: Option<Spanned<String>>,
}

/// One entry of `teams`: an owner team or a Microsoft Entra group team, its roles and members.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TeamFile {
    pub(crate) name: Spanned<String>,
    pub(crate) kind: TeamKindFile,
    /// The Entra group's object id (group teams only).
    pub(crate) group_id: Option<Spanned<String>>,
    pub(crate) business_unit: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) roles: Vec<Spanned<String>>,
    /// App keys of application users, or full names of ordinary users.
    #[serde(default)]
    pub(crate) members: Vec<Spanned<String>>,
    pub(crate) id: Option<Spanned<String>>,
}

/// `kind` of a team.
#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TeamKindFile {
    Owner,
    Group,
}

/// `tables.<logical_name>`: `{ generate = 25 }` or `{ rows = [...] }` (the validator wants
/// exactly one).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TableFile {
    pub(crate) generate: Option<Spanned<i64>>,
    pub(crate) rows: Option<Spanned<Vec<RowFile>>>,
    /// Who owns the generated rows: `"application_users"` or a list of names.
    pub(crate) owners: Option<Spanned<OwnersFile>>,
}

/// `owners` of a generated table: a keyword (`"application_users"`) or a list of team names,
/// app keys (their application users) and ordinary users' full names.
/// (Entries carry no span of their own: `Spanned` cannot sit inside an untagged enum.)
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum OwnersFile {
    Keyword(String),
    Names(Vec<String>),
}

/// `custom_tables.<logical_name>`: a table the world defines (`cr7a1_asset`). A column is a
/// type name (`"money"`) or an inline table (`{ type = "picklist", options = { Laptop =
/// 100000000 } }`), read as a TOML value so its errors point at it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustomTableFile {
    pub(crate) schema_name: Spanned<String>,
    pub(crate) entity_set: Spanned<String>,
    pub(crate) display_name: Spanned<String>,
    pub(crate) display_collection_name: Option<Spanned<String>>,
    pub(crate) primary_id: Option<Spanned<String>>,
    pub(crate) primary_name: Option<Spanned<String>>,
    pub(crate) ownership: Spanned<String>,
    /// Column logical name → type, in file order.
    #[serde(default)]
    pub(crate) columns: Entries<Spanned<toml::Value>>,
}

/// One inline row: Web API property name → value, in file order.
pub(crate) type RowFile = Entries<Spanned<toml::Value>>;

/// `limits`: service protection limits. Integers are read wide so that a negative value gets
/// the range message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsFile {
    pub(crate) requests: Option<Spanned<i64>>,
    pub(crate) window_seconds: Option<Spanned<i64>>,
    pub(crate) execution_milliseconds: Option<Spanned<i64>>,
    pub(crate) execution_milliseconds_per_request: Option<Spanned<i64>>,
    pub(crate) concurrent: Option<Spanned<i64>>,
}

/// One entry of `forced_throttles`. Integers are read wide so that a negative value gets the
/// range message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ForcedThrottleFile {
    pub(crate) limit: ThrottleLimitFile,
    pub(crate) app: Option<Spanned<String>>,
    pub(crate) nth: Option<Spanned<i64>>,
    pub(crate) times: Option<Spanned<i64>>,
    pub(crate) retry_after_seconds: Option<Spanned<i64>>,
}

/// `limit` of a forced throttle: which service protection limit's error to answer with.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ThrottleLimitFile {
    Requests,
    ExecutionTime,
    Concurrency,
}

/// `[dataverse]`: the fake Dataverse's switches; absent ones keep `Switches::default()`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DataverseFile {
    pub(crate) disabled_user_code: Option<Spanned<String>>,
    pub(crate) zero_roles_code: Option<Spanned<String>>,
    pub(crate) whoami_without_roles: Option<bool>,
    pub(crate) property_not_found_code: Option<Spanned<String>>,
    pub(crate) segment_not_found_code: Option<Spanned<String>>,
    pub(crate) throttle_code_decimal: Option<bool>,
    pub(crate) access_mode_text: Option<Spanned<String>>,
}

/// Where the values of each `[[faults]]` rule are written. `FaultRule` carries no spans, so
/// once the file has parsed as a [`WorldFile`] it is read again as this (which ignores every
/// other key) to point errors at the offending value.
#[derive(Deserialize)]
pub(crate) struct FaultSpans {
    #[serde(default)]
    pub(crate) faults: Vec<FaultRuleSpans>,
}

/// The positioned values of one fault rule that the validator checks.
#[derive(Deserialize)]
pub(crate) struct FaultRuleSpans {
    pub(crate) service: Option<Spanned<String>>,
    pub(crate) host: Option<Spanned<String>>,
    pub(crate) path: Option<Spanned<String>>,
    pub(crate) nth: Option<Spanned<u64>>,
    pub(crate) from: Option<Spanned<u64>>,
    pub(crate) times: Option<Spanned<u64>>,
    pub(crate) action: FaultActionSpans,
}

/// The positioned values of a fault action (only `respond` has any).
#[derive(Deserialize)]
pub(crate) struct FaultActionSpans {
    pub(crate) status: Option<Spanned<u16>>,
    #[serde(default)]
    pub(crate) headers: Entries<Spanned<String>>,
}

fn yes() -> bool {
    true
}

/// A TOML table read as a list of (key, value) pairs in file order, so that "the first app"
/// means the first one written. (Needs `toml`'s `preserve_order`; a plain map would sort.)
pub(crate) struct Entries<T>(pub(crate) Vec<(Spanned<String>, T)>);

impl<T> Default for Entries<T> {
    fn default() -> Entries<T> {
        Entries(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Entries<T>, D::Error> {
        struct EntriesVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for EntriesVisitor<T> {
            type Value = Entries<T>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a table")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<T>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}
