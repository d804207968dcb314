//! The source form and its validation. [`validate`] checks every field at once and returns
//! either a [`Draft`] (normalised values, ready for the connection check) or every
//! [`FieldError`]; warnings ride along in both cases. Pure: no I/O, no clock.

use std::borrow::Cow;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::{Host, Url};
use uuid::Uuid;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

/// What the user typed into the Dynamics 365 source form, unvalidated.
#[derive(Debug, Clone)]
pub struct SourceForm {
    /// Name of the source in the importer's list.
    pub name: String,
    /// Environment URL as pasted (`contoso.crm.dynamics.com`, a `main.aspx` link, ...).
    pub environment_url: String,
    /// Directory (tenant) ID: a GUID or a verified domain.
    pub tenant_id: String,
    /// Application (client) ID of the app registration.
    pub client_id: String,
    /// Client secret value.
    pub client_secret: SecretString,
}

/// A field of the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Name.
    Name,
    /// Environment URL.
    EnvironmentUrl,
    /// Tenant ID.
    TenantId,
    /// Client ID.
    ClientId,
    /// Client Secret.
    ClientSecret,
}

impl Field {
    /// The label the form shows (`Environment URL`).
    pub fn label(self) -> &'static str {
        match self {
            Field::Name => "Name",
            Field::EnvironmentUrl => "Environment URL",
            Field::TenantId => "Tenant ID",
            Field::ClientId => "Client ID",
            Field::ClientSecret => "Client Secret",
        }
    }

    /// The stable machine name (`environment_url`).
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::EnvironmentUrl => "environment_url",
            Field::TenantId => "tenant_id",
            Field::ClientId => "client_id",
            Field::ClientSecret => "client_secret",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A field the form refuses, with the sentence the user sees (it names what was expected and
/// never repeats the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field.
    pub field: Field,
    /// What is wrong and what was expected.
    pub message: String,
}

/// A field the form accepts but that is probably wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldWarning {
    /// The field.
    pub field: Field,
    /// What looks wrong.
    pub message: String,
}

/// Every problem [`validate`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormErrors {
    /// One entry per invalid field (a field appears at most once), in form order.
    pub errors: Vec<FieldError>,
    /// Warnings about fields that were accepted.
    pub warnings: Vec<FieldWarning>,
}

/// The rules that depend on the importer's state and settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct FormRules<'a> {
    /// Names already in the source list (compared case-insensitively after trimming).
    pub existing_names: &'a [String],
    /// Environment hosts accepted although they are on no known Dynamics 365 cloud (exact,
    /// case-insensitive host names). Empty by default: anything else would make the importer
    /// an SSRF tool.
    pub allowed_hosts: &'a [String],
}

/// A valid form, normalised.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The trimmed name.
    pub name: String,
    /// The normalised environment.
    pub environment: EnvironmentUrl,
    /// The tenant.
    pub tenant: TenantId,
    /// The application (client) ID.
    pub client_id: Uuid,
    /// The secret, trimmed (Entra never issues one with surrounding whitespace; inner
    /// characters are kept as typed).
    pub client_secret: SecretString,
    /// Warnings about accepted fields.
    pub warnings: Vec<FieldWarning>,
}

/// The Dynamics 365 clouds an environment can live on. The cloud decides the Entra authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cloud {
    /// Commercial (`crm.dynamics.com`, `crm2`…`crmNN.dynamics.com` except `crm9`).
    Public,
    /// US Government Community Cloud (`crm9.dynamics.com`), on commercial Entra.
    UsGcc,
    /// US GCC High (`crm.microsoftdynamics.us`).
    UsGccHigh,
    /// US Department of Defense (`crm.appsplatform.us`).
    UsDod,
    /// China, operated by 21Vianet (`crm.dynamics.cn`).
    China,
    /// A host from the allow-list setting, on commercial Entra.
    AllowListed,
}

impl Cloud {
    /// The Entra ID authority host for tokens for this cloud's environments.
    ///
    /// DoD's authority (`login.microsoftonline.us`) is inferred, not documented
    /// (reference/entra.md §10, UNCONFIRMED); China uses `login.chinacloudapi.cn`, the host the
    /// SDKs' constants name.
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Public | Cloud::UsGcc | Cloud::AllowListed => "login.microsoftonline.com",
            Cloud::UsGccHigh | Cloud::UsDod => "login.microsoftonline.us",
            Cloud::China => "login.chinacloudapi.cn",
        }
    }
}

/// A normalised environment URL: `https://{org}.{region}.dynamics.com`, no path, no slash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentUrl {
    url: String,
    cloud: Cloud,
}

impl EnvironmentUrl {
    /// Wraps an already-normalised URL (`https://` + lower-case host, nothing else).
    pub(crate) fn new(url: String, cloud: Cloud) -> EnvironmentUrl {
        EnvironmentUrl { url, cloud }
    }

    /// `https://contoso.crm.dynamics.com`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// `contoso.crm.dynamics.com`.
    pub fn host(&self) -> &str {
        self.url.trim_start_matches("https://")
    }

    /// The cloud the host belongs to.
    pub fn cloud(&self) -> Cloud {
        self.cloud
    }

    /// The token scope for an app-only token: `https://contoso.crm.dynamics.com/.default`.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.url)
    }

    /// The Web API base: `https://contoso.crm.dynamics.com/api/data/v9.2/`.
    pub fn api_base(&self) -> String {
        format!("{}/api/data/v9.2/", self.url)
    }
}

impl fmt::Display for EnvironmentUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// A tenant: its GUID or one of its verified domains (lower-cased).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TenantId {
    /// `6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10`.
    Id(Uuid),
    /// `contoso.onmicrosoft.com`.
    Domain(String),
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TenantId::Id(id) => write!(f, "{id}"),
            TenantId::Domain(domain) => f.write_str(domain),
        }
    }
}

/// Checks every field of `form` and returns the normalised draft, or every field error.
///
/// Each field yields at most one error, in form order; warnings come from every field and ride
/// in [`Draft::warnings`] or [`FormErrors::warnings`]. No message repeats the client secret.
pub fn validate(form: &SourceForm, rules: &FormRules<'_>) -> Result<Draft, FormErrors> {
    let mut warnings = Vec::new();
    // Every value is trimmed before it is checked or used: a pasted value often drags a space
    // or a line break along, and none of the five can hold one at either end (Entra never
    // issues a secret that starts or ends with whitespace). The user is told, in case what was
    // copied was not what was meant.
    let name_input = trimmed(Field::Name, &form.name, &mut warnings);
    let environment_input = trimmed(Field::EnvironmentUrl, &form.environment_url, &mut warnings);
    let tenant_input = trimmed(Field::TenantId, &form.tenant_id, &mut warnings);
    let client_id_input = trimmed(Field::ClientId, &form.client_id, &mut warnings);
    let secret_input = form.client_secret.expose_secret();
    let name = name(name_input, rules.existing_names);
    let environment = environment_url(environment_input, rules.allowed_hosts);
    let tenant = tenant_id(tenant_input);
    let client_id = client_id(client_id_input, tenant.as_ref().ok());
    let secret = client_secret(secret_input, &mut warnings);

    // Collected in form order, whatever order the checks ran in.
    let mut errors = Vec::new();
    let name = accept(&mut errors, Field::Name, name);
    let environment = accept(&mut errors, Field::EnvironmentUrl, environment);
    let tenant = accept(&mut errors, Field::TenantId, tenant);
    let client_id = accept(&mut errors, Field::ClientId, client_id);
    let secret = accept(&mut errors, Field::ClientSecret, secret);

    match (name, environment, tenant, client_id, secret) {
        (Some(name), Some(environment), Some(tenant), Some(client_id), Some(secret)) => Ok(Draft {
            name,
            environment,
            tenant,
            client_id,
            client_secret: SecretString::from(secret),
            warnings,
        }),
        _ => Err(FormErrors { errors, warnings }),
    }
}

/// `input` without surrounding whitespace; a warning for `field` when there was some around a
/// value (a blank field gets its field's "enter …" error instead).
fn trimmed<'a>(field: Field, input: &'a str, warnings: &mut Vec<FieldWarning>) -> &'a str {
    let value = input.trim();
    if !value.is_empty() && value.len() != input.len() {
        warnings.push(FieldWarning {
            field,
            message: format!(
                "The {} started or ended with a space or line break, which was removed; check \
                 that nothing else was copied with it.",
                field.label()
            ),
        });
    }
    value
}

/// Keeps the value of a valid field, or records its error.
fn accept<T>(errors: &mut Vec<FieldError>, field: Field, result: Result<T, String>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(message) => {
            errors.push(FieldError { field, message });
            None
        }
    }
}

const NAME_MAX_CHARS: usize = 100;
const EXAMPLE_ENVIRONMENT: &str = "https://contoso.crm.dynamics.com";
const FIND_ENVIRONMENT_URL: &str =
    "Power Platform admin center → Environments → the environment → Environment URL";
const FIND_APP_IDS: &str = "Microsoft Entra admin center → App registrations → your app → Overview";
const FIND_SECRET: &str =
    "Microsoft Entra admin center → App registrations → your app → Certificates & secrets";

/// The tenant of personal Microsoft accounts (what `consumers` resolves to).
const CONSUMERS_TENANT: Uuid = Uuid::from_u128(0x9188040d_6c67_4c5b_b112_36a304b66dad);

/// Multi-tenant authority aliases: valid for sign-in, never for an app-only token.
const TENANT_ALIASES: [&str; 3] = ["common", "organizations", "consumers"];

/// Entra sign-in hosts: a domain of this list in the Tenant ID field is a pasted URL, not a
/// tenant.
const SIGN_IN_HOSTS: [&str; 7] = [
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
];

/// Org labels on Dynamics 365 domains that are services, not environments.
const DISCOVERY_ORGS: [&str; 2] = ["globaldisco", "disco"];

/// Portals whose links users paste instead of the environment URL: domain and product name.
const PORTALS: [(&str, &str); 3] = [
    ("powerapps.com", "Power Apps"),
    ("powerautomate.com", "Power Automate"),
    ("powerplatform.microsoft.com", "Power Platform"),
];

fn name(input: &str, existing_names: &[String]) -> Result<String, String> {
    let name = input.trim();
    if name.is_empty() {
        return Err("Enter a name for this source.".to_owned());
    }
    let length = name.chars().count();
    if length > NAME_MAX_CHARS {
        return Err(format!(
            "The name must be at most {NAME_MAX_CHARS} characters long; this one has {length}."
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(
            "The name must not contain control characters such as tabs or line breaks.".to_owned(),
        );
    }
    let folded = name.to_lowercase();
    if existing_names
        .iter()
        .any(|existing| existing.trim().to_lowercase() == folded)
    {
        return Err("A source with this name already exists; choose a different name.".to_owned());
    }
    Ok(name.to_owned())
}

fn environment_url(input: &str, allowed_hosts: &[String]) -> Result<EnvironmentUrl, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err(format!(
            "Enter the environment URL, such as {EXAMPLE_ENVIRONMENT}."
        ));
    }
    let unparsable = || {
        format!(
            "The environment URL is not a valid web address; enter it like {EXAMPLE_ENVIRONMENT}."
        )
    };
    let url = Url::parse(&with_https(input)).map_err(|_| unparsable())?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!(
            "The environment URL must start with https://, such as {EXAMPLE_ENVIRONMENT}."
        ));
    }
    // Checked before the host: in `https://contoso.crm.dynamics.com@evil.example` the familiar
    // part is the user name, and saying so is more useful than "unknown host".
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "The environment URL must not contain a user name or password (the part before @); \
             enter only the address, such as {EXAMPLE_ENVIRONMENT}."
        ));
    }
    let host = match url.host() {
        Some(Host::Domain(host)) => host,
        Some(Host::Ipv4(_) | Host::Ipv6(_)) => {
            return Err(format!(
                "The environment URL must use the environment's host name, such as \
                 {EXAMPLE_ENVIRONMENT}, not an IP address."
            ));
        }
        None => return Err(unparsable()),
    };
    // `contoso.crm.dynamics.com.` (absolute DNS name) is the same host; drop the dot so the
    // normalised URL, the token scope and the TLS name all use the usual spelling.
    let host = host.strip_suffix('.').unwrap_or(host);
    let (web_host, cloud) = environment_host(host, url.path(), allowed_hosts)?;
    if url.scheme() == "http" {
        return Err(format!(
            "The environment URL must use HTTPS: enter https://{web_host}."
        ));
    }
    // `Url` drops the scheme's default port, so `:443` is already gone here.
    if url.port().is_some() {
        return Err(
            "The environment URL must not name a port: Dynamics 365 is served on the standard \
             HTTPS port 443."
                .to_owned(),
        );
    }
    Ok(EnvironmentUrl::new(format!("https://{web_host}"), cloud))
}

/// Prepends `https://` unless `input` starts with a scheme (`http://`, `HTTPS://`, `ftp://`).
fn with_https(input: &str) -> Cow<'_, str> {
    let has_scheme = input.split_once("://").is_some_and(|(scheme, _)| {
        scheme.starts_with(|first: char| first.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if has_scheme {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(format!("https://{input}"))
    }
}

/// Recognises an environment host (lower-case, no trailing dot) and returns its web host and
/// cloud. `path` only sharpens the message for portal links.
fn environment_host(
    host: &str,
    path: &str,
    allowed_hosts: &[String],
) -> Result<(String, Cloud), String> {
    if allowed_hosts
        .iter()
        .any(|allowed| allowed.trim().eq_ignore_ascii_case(host))
    {
        return Ok((host.to_owned(), Cloud::AllowListed));
    }
    if let Some((_, product)) = PORTALS
        .iter()
        .find(|(domain, _)| is_same_or_subdomain(host, domain))
    {
        return Err(if path.starts_with("/environments/") {
            format!(
                "This {product} link names the environment by its ID and does not contain the \
                 environment URL; copy it from {FIND_ENVIRONMENT_URL}, such as \
                 {EXAMPLE_ENVIRONMENT}."
            )
        } else {
            format!(
                "This is a {product} address, not an environment; copy the environment URL from \
                 {FIND_ENVIRONMENT_URL}, such as {EXAMPLE_ENVIRONMENT}."
            )
        });
    }
    let unknown = || {
        format!(
            "The environment URL must be a Dynamics 365 environment such as \
             {EXAMPLE_ENVIRONMENT} (crm*.dynamics.com, crm.microsoftdynamics.us, \
             crm.appsplatform.us or crm.dynamics.cn); other hosts need the allowed-hosts setting."
        )
    };
    let Some((prefix, region, cloud)) = split_region(host) else {
        return Err(unknown());
    };
    // `contoso.api.crm.dynamics.com` is the Web API spelling of the same environment.
    let org = prefix.strip_suffix(".api").unwrap_or(prefix);
    if org.is_empty() {
        return Err(format!(
            "The environment URL is missing the environment name: it must look like \
             https://contoso.{region}."
        ));
    }
    if DISCOVERY_ORGS.contains(&org) {
        return Err(format!(
            "This is the Dynamics 365 discovery service, not an environment; copy the environment \
             URL from {FIND_ENVIRONMENT_URL}, such as {EXAMPLE_ENVIRONMENT}."
        ));
    }
    if !is_org_label(org) {
        return Err(format!(
            "The environment name in the URL (the part before .{region}) must be letters, digits \
             and hyphens, at most 63 characters, not starting or ending with a hyphen, as in \
             https://contoso.{region}."
        ));
    }
    Ok((format!("{org}.{region}"), cloud))
}

/// Splits `contoso.api.crm4.dynamics.com` into `contoso.api`, the region domain
/// `crm4.dynamics.com` (every region domain has three labels) and its cloud.
fn split_region(host: &str) -> Option<(&str, &str, Cloud)> {
    let (prefix, region) = match host.rmatch_indices('.').nth(2) {
        Some((dot, _)) => (&host[..dot], &host[dot + 1..]),
        None => ("", host),
    };
    Some((prefix, region, region_cloud(region)?))
}

/// The cloud of a Dynamics 365 region domain (`crm4.dynamics.com` → public).
fn region_cloud(region: &str) -> Option<Cloud> {
    match region {
        "crm.dynamics.com" => Some(Cloud::Public),
        "crm.microsoftdynamics.us" => Some(Cloud::UsGccHigh),
        "crm.appsplatform.us" => Some(Cloud::UsDod),
        "crm.dynamics.cn" => Some(Cloud::China),
        _ => {
            let number = region.strip_prefix("crm")?.strip_suffix(".dynamics.com")?;
            let canonical = !number.starts_with('0') && number.bytes().all(|b| b.is_ascii_digit());
            match number.parse::<u8>().ok().filter(|_| canonical)? {
                9 => Some(Cloud::UsGcc),
                2..=30 => Some(Cloud::Public),
                _ => None,
            }
        }
    }
}

/// `[a-z0-9][a-z0-9-]*`, at most 63 characters, not ending in `-`, and not an IDN (`xn--`):
/// environment names are ASCII, so punycode means the user typed a character no URL can hold.
fn is_org_label(org: &str) -> bool {
    org.len() <= 63
        && org.starts_with(|first: char| first.is_ascii_lowercase() || first.is_ascii_digit())
        && !org.ends_with('-')
        && !org.starts_with("xn--")
        && org
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_same_or_subdomain(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain)
        .is_some_and(|subdomain| subdomain.is_empty() || subdomain.ends_with('.'))
}

fn tenant_id(input: &str) -> Result<TenantId, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err(format!(
            "Enter the Directory (tenant) ID: a GUID shown in {FIND_APP_IDS}, or a verified \
             domain such as contoso.onmicrosoft.com."
        ));
    }
    if let Some(alias) = tenant_alias(input) {
        return Err(alias_message(alias));
    }
    if let Some(id) = hyphenated_guid(input) {
        return tenant_guid(id).map(TenantId::Id);
    }
    if let Some(id) = braced_guid(input) {
        let id = tenant_guid(id)?;
        return Err(format!("Enter the tenant ID without braces: {id}."));
    }
    let pasted_url = input.contains('/')
        || SIGN_IN_HOSTS
            .iter()
            .any(|host| host.eq_ignore_ascii_case(input));
    if pasted_url {
        return Err(tenant_url_message(input));
    }
    if is_domain_name(input) {
        return Ok(TenantId::Domain(input.to_ascii_lowercase()));
    }
    Err(format!(
        "The tenant ID must be a GUID such as 6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10 or a verified \
         domain such as contoso.onmicrosoft.com; copy the Directory (tenant) ID from \
         {FIND_APP_IDS}."
    ))
}

fn tenant_alias(input: &str) -> Option<&'static str> {
    TENANT_ALIASES
        .into_iter()
        .find(|alias| alias.eq_ignore_ascii_case(input))
}

fn alias_message(alias: &str) -> String {
    format!(
        "\"{alias}\" stands for many tenants, but an app-only token needs your specific tenant: \
         enter the Directory (tenant) ID from {FIND_APP_IDS}."
    )
}

/// Refuses the tenant GUIDs that are syntactically fine but never a work tenant.
fn tenant_guid(id: Uuid) -> Result<Uuid, String> {
    if id.is_nil() {
        return Err(format!(
            "The tenant ID cannot be all zeros; copy the Directory (tenant) ID from \
             {FIND_APP_IDS}."
        ));
    }
    if id == CONSUMERS_TENANT {
        return Err(format!(
            "{CONSUMERS_TENANT} is the tenant of personal Microsoft accounts, not a work or \
             school tenant; enter the Directory (tenant) ID from {FIND_APP_IDS}."
        ));
    }
    Ok(id)
}

/// The message for a URL in the Tenant ID field (`https://login.microsoftonline.com/<id>/...`):
/// names the tenant GUID in its first path segment when there is one.
fn tenant_url_message(input: &str) -> String {
    let first_segment = Url::parse(&with_https(input)).ok().and_then(|url| {
        url.path_segments()
            .and_then(|mut segments| segments.next().map(str::to_owned))
    });
    let first_segment = first_segment.as_deref().unwrap_or_default();
    if let Some(id) = hyphenated_guid(first_segment) {
        return match tenant_guid(id) {
            Ok(id) => format!("Enter only the tenant ID, not a URL: {id}."),
            Err(message) => message,
        };
    }
    if let Some(alias) = tenant_alias(first_segment) {
        return alias_message(alias);
    }
    format!(
        "The tenant ID must be the ID alone, not a URL; copy the Directory (tenant) ID from \
         {FIND_APP_IDS}."
    )
}

/// At least two DNS labels (letters, digits, hyphens; 1 to 63 characters; no hyphen at either
/// end), at most 253 characters, and an alphabetic top-level label.
fn is_domain_name(input: &str) -> bool {
    let is_label = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    input.len() <= 253
        && input.split('.').count() >= 2
        && input.split('.').all(is_label)
        && input
            .rsplit('.')
            .next()
            .is_some_and(|top| top.bytes().all(|b| b.is_ascii_alphabetic()))
}

fn client_id(input: &str, tenant: Option<&TenantId>) -> Result<Uuid, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err(format!(
            "Enter the Application (client) ID: a GUID shown in {FIND_APP_IDS}."
        ));
    }
    let check = |id: Uuid| {
        if id.is_nil() {
            return Err(format!(
                "The client ID cannot be all zeros; copy the Application (client) ID from \
                 {FIND_APP_IDS}."
            ));
        }
        // GUIDs are unique, so an equal pair means the tenant ID was pasted twice.
        if tenant == Some(&TenantId::Id(id)) {
            return Err(format!(
                "This is the Directory (tenant) ID; enter the Application (client) ID from \
                 {FIND_APP_IDS}."
            ));
        }
        Ok(id)
    };
    if let Some(id) = hyphenated_guid(input) {
        return check(id);
    }
    if let Some(id) = braced_guid(input) {
        let id = check(id)?;
        return Err(format!("Enter the client ID without braces: {id}."));
    }
    let application_id_uri = input
        .get(.."api://".len())
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("api://"));
    if application_id_uri {
        // The default Application ID URI is `api://<client id>`.
        let path = input["api://".len()..].trim_end_matches('/');
        if let Some(id) = hyphenated_guid(path) {
            let id = check(id)?;
            return Err(format!(
                "This is the Application ID URI; enter only the Application (client) ID: {id}."
            ));
        }
        return Err(format!(
            "This is the Application ID URI, not the Application (client) ID; copy the GUID from \
             {FIND_APP_IDS}."
        ));
    }
    Err(format!(
        "The client ID must be a GUID such as 0b8f3c1e-5d2a-4e7b-9c61-2f4a8d9e0b13: the \
         Application (client) ID from {FIND_APP_IDS}, not the app's name."
    ))
}

/// Checks the secret and returns it trimmed; what looks wrong but may be right becomes a
/// warning.
fn client_secret(secret: &str, warnings: &mut Vec<FieldWarning>) -> Result<String, String> {
    let trimmed = secret.trim();
    if trimmed.is_empty() {
        return Err(format!(
            "Enter the client secret: the Value shown when the secret was created in \
             {FIND_SECRET}."
        ));
    }
    let mut warn = |message: &str| {
        warnings.push(FieldWarning {
            field: Field::ClientSecret,
            message: message.to_owned(),
        })
    };
    if hyphenated_guid(trimmed)
        .or_else(|| braced_guid(trimmed))
        .is_some()
    {
        warn(
            "This looks like the secret's ID, not its value: Certificates & secrets shows both; \
             copy the Value column.",
        );
    }
    if trimmed.len() != secret.len() {
        warn(
            "The client secret started or ended with a space or line break, which was removed \
             (Microsoft Entra ID never issues a secret with one); check that nothing else was \
             copied with it.",
        );
    }
    Ok(trimmed.to_owned())
}

/// A GUID in the form Entra shows (`8-4-4-4-12` hex digits, any case); `Uuid::try_parse` alone
/// would also take 32 bare digits, braces and `urn:uuid:`.
fn hyphenated_guid(input: &str) -> Option<Uuid> {
    let hyphenated = input.len() == 36
        && input.bytes().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        });
    if hyphenated {
        Uuid::try_parse(input).ok()
    } else {
        None
    }
}

/// `{6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10}`, as PowerShell and the registry print GUIDs.
fn braced_guid(input: &str) -> Option<Uuid> {
    input
        .strip_prefix('{')?
        .strip_suffix('}')
        .and_then(hyphenated_guid)
}
