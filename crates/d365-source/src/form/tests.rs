//! Tests for [`validate`]: one table per field. Each row runs the whole form through `validate`
//! with every other field valid, so a row also proves that its error lands on its own field and
//! nowhere else. Rows read `input` → what the user sees: the normalised value or `error: …`,
//! then one `warning: …` line per warning.

use secrecy::{ExposeSecret, SecretString};

use super::{Cloud, Field, FieldError, FieldWarning, FormErrors, FormRules, SourceForm, validate};

const TENANT: &str = "6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10";
const CLIENT: &str = "0b8f3c1e-5d2a-4e7b-9c61-2f4a8d9e0b13";
/// Shaped like an Entra secret value (40 characters with `~`).
const SECRET: &str = "Xy48Q~k2Jd.vS_0aLw-3pRnTq8uYbZ1cFh6gMe9t";
/// A secret's ID, the GUID Certificates & secrets shows next to the value.
const SECRET_ID: &str = "a3c6b1c2-7d4e-4f5a-8b9c-0d1e2f3a4b5c";

const URL_UNPARSABLE: &str = "error: The environment URL is not a valid web address; enter it like https://contoso.crm.dynamics.com.";
const URL_UNKNOWN_HOST: &str = "error: The environment URL must be a Dynamics 365 environment such as https://contoso.crm.dynamics.com (crm*.dynamics.com, crm.microsoftdynamics.us, crm.appsplatform.us or crm.dynamics.cn); other hosts need the allowed-hosts setting.";
const URL_USER_INFO: &str = "error: The environment URL must not contain a user name or password (the part before @); enter only the address, such as https://contoso.crm.dynamics.com.";
const URL_IP: &str = "error: The environment URL must use the environment's host name, such as https://contoso.crm.dynamics.com, not an IP address.";
const URL_PORT: &str = "error: The environment URL must not name a port: Dynamics 365 is served on the standard HTTPS port 443.";
const URL_BAD_ORG: &str = "error: The environment name in the URL (the part before .crm.dynamics.com) must be letters, digits and hyphens, at most 63 characters, not starting or ending with a hyphen, as in https://contoso.crm.dynamics.com.";
const URL_DISCOVERY: &str = "error: This is the Dynamics 365 discovery service, not an environment; copy the environment URL from Power Platform admin center → Environments → the environment → Environment URL, such as https://contoso.crm.dynamics.com.";
const TENANT_MALFORMED: &str = "error: The tenant ID must be a GUID such as 6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10 or a verified domain such as contoso.onmicrosoft.com; copy the Directory (tenant) ID from Microsoft Entra admin center → App registrations → your app → Overview.";
const TENANT_URL: &str = "error: The tenant ID must be the ID alone, not a URL; copy the Directory (tenant) ID from Microsoft Entra admin center → App registrations → your app → Overview.";
const TENANT_PASTE_ID: &str =
    "error: Enter only the tenant ID, not a URL: 6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10.";
const TENANT_CONSUMERS: &str = "error: 9188040d-6c67-4c5b-b112-36a304b66dad is the tenant of personal Microsoft accounts, not a work or school tenant; enter the Directory (tenant) ID from Microsoft Entra admin center → App registrations → your app → Overview.";
const CLIENT_MALFORMED: &str = "error: The client ID must be a GUID such as 0b8f3c1e-5d2a-4e7b-9c61-2f4a8d9e0b13: the Application (client) ID from Microsoft Entra admin center → App registrations → your app → Overview, not the app's name.";
const SECRET_EMPTY: &str = "error: Enter the client secret: the Value shown when the secret was created in Microsoft Entra admin center → App registrations → your app → Certificates & secrets.";
const SECRET_LOOKS_LIKE_ID: &str = "warning: This looks like the secret's ID, not its value: Certificates & secrets shows both; copy the Value column.";
const SECRET_WHITESPACE: &str = "warning: The client secret started or ended with a space or line break, which was removed (Microsoft Entra ID never issues a secret with one); check that nothing else was copied with it.";
const NAME_WHITESPACE: &str = "warning: The Name started or ended with a space or line break, which was removed; check that nothing else was copied with it.";
const URL_WHITESPACE: &str = "warning: The Environment URL started or ended with a space or line break, which was removed; check that nothing else was copied with it.";
const TENANT_WHITESPACE: &str = "warning: The Tenant ID started or ended with a space or line break, which was removed; check that nothing else was copied with it.";
const CLIENT_WHITESPACE: &str = "warning: The Client ID started or ended with a space or line break, which was removed; check that nothing else was copied with it.";

fn valid_form() -> SourceForm {
    SourceForm {
        name: "Contoso production".to_owned(),
        environment_url: "https://contoso.crm.dynamics.com".to_owned(),
        tenant_id: TENANT.to_owned(),
        client_id: CLIENT.to_owned(),
        client_secret: SecretString::from(SECRET),
    }
}

/// Validates `form` and renders `field` as the user sees it. Fails when another field has an
/// error or a warning, because every row changes one field only.
#[track_caller]
fn render(form: &SourceForm, rules: &FormRules<'_>, field: Field) -> String {
    let (value, errors, warnings) = match validate(form, rules) {
        Ok(draft) => {
            let value = match field {
                Field::Name => draft.name,
                Field::EnvironmentUrl => {
                    format!("{} {:?}", draft.environment, draft.environment.cloud())
                }
                Field::TenantId => format!("{:?}", draft.tenant),
                Field::ClientId => draft.client_id.to_string(),
                Field::ClientSecret => format!("{:?}", draft.client_secret.expose_secret()),
            };
            (Some(value), Vec::new(), draft.warnings)
        }
        Err(FormErrors { errors, warnings }) => (None, errors, warnings),
    };
    let elsewhere: Vec<&FieldError> = errors.iter().filter(|error| error.field != field).collect();
    assert!(
        elsewhere.is_empty(),
        "errors on other fields: {elsewhere:?}"
    );
    let elsewhere: Vec<&FieldWarning> = warnings
        .iter()
        .filter(|warning| warning.field != field)
        .collect();
    assert!(
        elsewhere.is_empty(),
        "warnings on other fields: {elsewhere:?}"
    );

    let mut lines: Vec<String> = value.into_iter().collect();
    lines.extend(
        errors
            .iter()
            .map(|error| format!("error: {}", error.message)),
    );
    lines.extend(
        warnings
            .iter()
            .map(|warning| format!("warning: {}", warning.message)),
    );
    lines.join("\n")
}

#[track_caller]
fn check_name(existing_names: &[&str], input: &str, expected: &str) {
    let existing_names: Vec<String> = existing_names.iter().map(|&name| name.to_owned()).collect();
    let rules = FormRules {
        existing_names: &existing_names,
        ..FormRules::default()
    };
    let form = SourceForm {
        name: input.to_owned(),
        ..valid_form()
    };
    assert_eq!(
        render(&form, &rules, Field::Name),
        expected,
        "name {input:?}"
    );
}

#[track_caller]
fn check_url_allowing(allowed_hosts: &[&str], input: &str, expected: &str) {
    let allowed_hosts: Vec<String> = allowed_hosts.iter().map(|&host| host.to_owned()).collect();
    let rules = FormRules {
        allowed_hosts: &allowed_hosts,
        ..FormRules::default()
    };
    let form = SourceForm {
        environment_url: input.to_owned(),
        ..valid_form()
    };
    assert_eq!(
        render(&form, &rules, Field::EnvironmentUrl),
        expected,
        "environment URL {input:?}"
    );
}

#[track_caller]
fn check_url(input: &str, expected: &str) {
    check_url_allowing(&[], input, expected);
}

/// `expected` is `{url} {cloud} {authority host}`.
#[track_caller]
fn check_cloud(input: &str, expected: &str) {
    let allowed_hosts = ["dataverse.contoso.internal".to_owned()];
    let rules = FormRules {
        allowed_hosts: &allowed_hosts,
        ..FormRules::default()
    };
    let form = SourceForm {
        environment_url: input.to_owned(),
        ..valid_form()
    };
    let environment = match validate(&form, &rules) {
        Ok(draft) => draft.environment,
        Err(errors) => panic!("{input:?} is refused: {errors:?}"),
    };
    let cloud: Cloud = environment.cloud();
    let actual = format!("{environment} {cloud:?} {}", cloud.authority_host());
    assert_eq!(actual, expected, "environment URL {input:?}");
}

#[track_caller]
fn check_tenant(input: &str, expected: &str) {
    let form = SourceForm {
        tenant_id: input.to_owned(),
        ..valid_form()
    };
    assert_eq!(
        render(&form, &FormRules::default(), Field::TenantId),
        expected,
        "tenant {input:?}"
    );
}

#[track_caller]
fn check_client_id(input: &str, expected: &str) {
    let form = SourceForm {
        client_id: input.to_owned(),
        ..valid_form()
    };
    let actual = render(&form, &FormRules::default(), Field::ClientId);
    assert_eq!(actual, expected, "client ID {input:?}");
}

#[track_caller]
fn check_secret(input: &str, expected: &str) {
    let form = SourceForm {
        client_secret: SecretString::from(input),
        ..valid_form()
    };
    let actual = render(&form, &FormRules::default(), Field::ClientSecret);
    assert_eq!(actual, expected, "secret {input:?}");
}

#[test]
fn a_valid_form_becomes_a_normalised_draft() {
    let form = SourceForm {
        name: "  Contoso production ".to_owned(),
        environment_url: "https://Contoso.api.crm4.dynamics.com/api/data/v9.2/".to_owned(),
        tenant_id: format!(" {} ", TENANT.to_uppercase()),
        client_id: CLIENT.to_owned(),
        client_secret: SecretString::from(SECRET),
    };
    let draft = validate(&form, &FormRules::default()).expect("every field is valid");

    assert_eq!(draft.name, "Contoso production");
    assert_eq!(
        draft.environment.as_str(),
        "https://contoso.crm4.dynamics.com"
    );
    assert_eq!(draft.environment.host(), "contoso.crm4.dynamics.com");
    assert_eq!(
        draft.environment.scope(),
        "https://contoso.crm4.dynamics.com/.default"
    );
    assert_eq!(
        draft.environment.api_base(),
        "https://contoso.crm4.dynamics.com/api/data/v9.2/"
    );
    assert_eq!(draft.tenant.to_string(), TENANT);
    assert_eq!(draft.client_id.to_string(), CLIENT);
    assert_eq!(draft.client_secret.expose_secret(), SECRET);
    let warned: Vec<Field> = draft.warnings.iter().map(|warning| warning.field).collect();
    assert_eq!(warned, [Field::Name, Field::TenantId]);
    assert!(
        !format!("{draft:?}").contains(SECRET),
        "Debug redacts the secret"
    );
}

#[test]
fn name_is_required_bounded_printable_and_unique() {
    let existing = &["Contoso production", "  Fabrikam  ", "Ärzte"];
    check_name(existing, "Contoso test", "Contoso test");
    check_name(
        existing,
        "  Contoso test \t\n",
        &format!("Contoso test\n{NAME_WHITESPACE}"),
    );
    check_name(
        existing,
        "Contoso production (EU)",
        "Contoso production (EU)",
    );
    check_name(existing, &"é".repeat(100), &"é".repeat(100));

    check_name(existing, "", "error: Enter a name for this source.");
    check_name(existing, " \t\n ", "error: Enter a name for this source.");
    check_name(
        existing,
        &"é".repeat(101),
        "error: The name must be at most 100 characters long; this one has 101.",
    );
    check_name(
        existing,
        "Contoso\tproduction",
        "error: The name must not contain control characters such as tabs or line breaks.",
    );
    check_name(
        existing,
        "Contoso\u{7}",
        "error: The name must not contain control characters such as tabs or line breaks.",
    );
    let taken = "error: A source with this name already exists; choose a different name.";
    check_name(
        existing,
        "CONTOSO PRODUCTION ",
        &format!("{taken}\n{NAME_WHITESPACE}"),
    );
    check_name(existing, "fabrikam", taken);
    check_name(existing, "ärzte", taken);
}

#[test]
fn environment_url_accepts_what_users_paste_and_keeps_only_the_web_host() {
    let contoso = "https://contoso.crm.dynamics.com Public";
    check_url("contoso.crm.dynamics.com", contoso);
    check_url(
        "  https://contoso.crm.dynamics.com/  ",
        &format!("{contoso}\n{URL_WHITESPACE}"),
    );
    check_url("HTTPS://CONTOSO.CRM.DYNAMICS.COM/", contoso);
    check_url("https://contoso.crm.dynamics.com:443/", contoso);
    check_url("contoso.crm.dynamics.com:443", contoso);
    // An absolute DNS name is the same host; the dot is dropped.
    check_url("https://contoso.crm.dynamics.com./", contoso);
    check_url("contoso.api.crm.dynamics.com", contoso);
    check_url(
        "https://contoso.api.crm.dynamics.com/api/data/v9.2/",
        contoso,
    );
    check_url(
        "https://contoso.crm.dynamics.com/api/data/v9.0/accounts?$top=1",
        contoso,
    );
    check_url(
        "https://contoso.api.crm.dynamics.com/XRMServices/2011/Organization.svc",
        contoso,
    );
    check_url(
        "https://contoso.crm.dynamics.com/main.aspx?forceUCI=1&pagetype=entityrecord&etn=connectionreference&id=5f6e7d8c-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
        contoso,
    );
    check_url(
        "https://contoso.crm4.dynamics.com/main.aspx?appid=5f6e7d8c-1a2b-4c3d-8e9f-0a1b2c3d4e5f&pagetype=entitylist&etn=account",
        "https://contoso.crm4.dynamics.com Public",
    );
    check_url(
        "org-2024x.api.crm11.dynamics.com/api/data/v9.2",
        "https://org-2024x.crm11.dynamics.com Public",
    );
    let longest = "a".repeat(63);
    check_url(
        &format!("https://{longest}.crm.dynamics.com"),
        &format!("https://{longest}.crm.dynamics.com Public"),
    );
}

#[test]
fn environment_url_knows_each_cloud_and_its_authority() {
    check_cloud(
        "contoso.crm.dynamics.com",
        "https://contoso.crm.dynamics.com Public login.microsoftonline.com",
    );
    check_cloud(
        "contoso.crm2.dynamics.com",
        "https://contoso.crm2.dynamics.com Public login.microsoftonline.com",
    );
    check_cloud(
        "contoso.api.crm30.dynamics.com",
        "https://contoso.crm30.dynamics.com Public login.microsoftonline.com",
    );
    check_cloud(
        "contoso.crm9.dynamics.com",
        "https://contoso.crm9.dynamics.com UsGcc login.microsoftonline.com",
    );
    check_cloud(
        "contoso.api.crm.microsoftdynamics.us",
        "https://contoso.crm.microsoftdynamics.us UsGccHigh login.microsoftonline.us",
    );
    check_cloud(
        "contoso.crm.appsplatform.us",
        "https://contoso.crm.appsplatform.us UsDod login.microsoftonline.us",
    );
    check_cloud(
        "CONTOSO.CRM.DYNAMICS.CN",
        "https://contoso.crm.dynamics.cn China login.chinacloudapi.cn",
    );
    check_cloud(
        "dataverse.contoso.internal",
        "https://dataverse.contoso.internal AllowListed login.microsoftonline.com",
    );
}

#[test]
fn environment_url_refuses_what_is_not_an_https_environment_address() {
    let required = "error: Enter the environment URL, such as https://contoso.crm.dynamics.com.";
    check_url("", required);
    check_url(" \t ", required);

    check_url(
        "http://contoso.crm.dynamics.com",
        "error: The environment URL must use HTTPS: enter https://contoso.crm.dynamics.com.",
    );
    check_url(
        "http://contoso.api.crm4.dynamics.com:443/api/data/v9.2/",
        "error: The environment URL must use HTTPS: enter https://contoso.crm4.dynamics.com.",
    );
    check_url(
        "ftp://contoso.crm.dynamics.com",
        "error: The environment URL must start with https://, such as https://contoso.crm.dynamics.com.",
    );

    check_url("https://user:pass@contoso.crm.dynamics.com", URL_USER_INFO);
    check_url("https://:pass@contoso.crm.dynamics.com", URL_USER_INFO);
    check_url(
        "https://contoso.crm.dynamics.com@evil.example",
        URL_USER_INFO,
    );

    check_url("https://10.0.0.5/api/data/v9.2/", URL_IP);
    check_url("https://[::1]:443/", URL_IP);
    check_url("2130706433", URL_IP); // 127.0.0.1 in decimal

    check_url("https://contoso.crm.dynamics.com:8443/", URL_PORT);
    check_url("contoso.crm.dynamics.com:80", URL_PORT);

    check_url("contoso crm", URL_UNPARSABLE);
    check_url("https://", URL_UNPARSABLE);
    check_url("https://contoso.crm.dynamics.com:https/", URL_UNPARSABLE);
}

#[test]
fn environment_url_refuses_hosts_outside_the_known_clouds() {
    check_url("https://contoso.example.com", URL_UNKNOWN_HOST);
    check_url("localhost", URL_UNKNOWN_HOST);
    check_url(
        "https://contoso.crm.dynamics.com.evil.example/",
        URL_UNKNOWN_HOST,
    );
    check_url("https://contoso.dynamics.com", URL_UNKNOWN_HOST);
    check_url("https://contoso.crm1.dynamics.com", URL_UNKNOWN_HOST);
    check_url("https://contoso.crm31.dynamics.com", URL_UNKNOWN_HOST);
    check_url("https://contoso.crm04.dynamics.com", URL_UNKNOWN_HOST);
    check_url("https://contoso.crm.microsoftdynamics.de", URL_UNKNOWN_HOST); // closed in 2021
    check_url("https://contoso.crm.dynamics.com../", URL_UNKNOWN_HOST);
    // Unknown beats "use HTTPS": switching the scheme would not help.
    check_url("http://contoso.example.com", URL_UNKNOWN_HOST);
}

#[test]
fn environment_url_checks_the_environment_name() {
    check_url(
        "https://crm.dynamics.com",
        "error: The environment URL is missing the environment name: it must look like https://contoso.crm.dynamics.com.",
    );
    check_url(
        "crm9.dynamics.com/api/data/v9.2/",
        "error: The environment URL is missing the environment name: it must look like https://contoso.crm9.dynamics.com.",
    );
    check_url(
        "https://www.contoso.crm4.dynamics.com",
        "error: The environment name in the URL (the part before .crm4.dynamics.com) must be letters, digits and hyphens, at most 63 characters, not starting or ending with a hyphen, as in https://contoso.crm4.dynamics.com.",
    );
    check_url("https://-contoso.crm.dynamics.com", URL_BAD_ORG);
    check_url("https://contoso-.crm.dynamics.com", URL_BAD_ORG);
    check_url("https://con_toso.crm.dynamics.com", URL_BAD_ORG);
    check_url("https://contöso.crm.dynamics.com", URL_BAD_ORG);
    check_url(
        &format!("https://{}.crm.dynamics.com", "a".repeat(64)),
        URL_BAD_ORG,
    );
}

#[test]
fn environment_url_explains_links_that_are_not_the_environment() {
    check_url(
        "https://globaldisco.crm.dynamics.com/api/discovery/v2.0/Instances",
        URL_DISCOVERY,
    );
    check_url(
        "https://disco.crm4.dynamics.com/XRMServices/2011/Discovery.svc",
        URL_DISCOVERY,
    );
    check_url(
        "https://make.powerapps.com/environments/5f6e7d8c-1a2b-4c3d-8e9f-0a1b2c3d4e5f/home",
        "error: This Power Apps link names the environment by its ID and does not contain the environment URL; copy it from Power Platform admin center → Environments → the environment → Environment URL, such as https://contoso.crm.dynamics.com.",
    );
    check_url(
        "make.powerapps.com",
        "error: This is a Power Apps address, not an environment; copy the environment URL from Power Platform admin center → Environments → the environment → Environment URL, such as https://contoso.crm.dynamics.com.",
    );
    check_url(
        "https://make.powerautomate.com/environments/Default-6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10/flows",
        "error: This Power Automate link names the environment by its ID and does not contain the environment URL; copy it from Power Platform admin center → Environments → the environment → Environment URL, such as https://contoso.crm.dynamics.com.",
    );
    check_url(
        "https://admin.powerplatform.microsoft.com/environments/environment/5f6e7d8c-1a2b-4c3d-8e9f-0a1b2c3d4e5f/hub",
        "error: This Power Platform link names the environment by its ID and does not contain the environment URL; copy it from Power Platform admin center → Environments → the environment → Environment URL, such as https://contoso.crm.dynamics.com.",
    );
    check_url(
        "https://admin.powerplatform.microsoft.com/",
        "error: This is a Power Platform address, not an environment; copy the environment URL from Power Platform admin center → Environments → the environment → Environment URL, such as https://contoso.crm.dynamics.com.",
    );
    // Only whole labels count: this is some other site, not a portal.
    check_url("https://notpowerapps.com", URL_UNKNOWN_HOST);
}

#[test]
fn environment_url_allow_list_is_exact_and_still_https_only() {
    let allowed = &["Dataverse.Contoso.Internal", "203.0.113.7"];
    let internal = "https://dataverse.contoso.internal AllowListed";
    check_url_allowing(
        allowed,
        "dataverse.contoso.internal/api/data/v9.2/",
        internal,
    );
    check_url_allowing(allowed, "HTTPS://DATAVERSE.CONTOSO.INTERNAL:443", internal);
    check_url_allowing(
        allowed,
        "https://x.dataverse.contoso.internal",
        URL_UNKNOWN_HOST,
    );
    check_url_allowing(
        allowed,
        "https://dataverse.contoso.internal.evil",
        URL_UNKNOWN_HOST,
    );
    check_url_allowing(
        allowed,
        "http://dataverse.contoso.internal",
        "error: The environment URL must use HTTPS: enter https://dataverse.contoso.internal.",
    );
    check_url_allowing(allowed, "https://dataverse.contoso.internal:8443", URL_PORT);
    check_url_allowing(
        allowed,
        "https://admin:pw@dataverse.contoso.internal",
        URL_USER_INFO,
    );
    // Listing an address does not make IP literals acceptable.
    check_url_allowing(allowed, "https://203.0.113.7", URL_IP);
    // Known clouds stay known when the list is in use.
    check_url_allowing(
        allowed,
        "contoso.crm.dynamics.com",
        "https://contoso.crm.dynamics.com Public",
    );
}

#[test]
fn tenant_id_is_a_guid_or_a_verified_domain() {
    check_tenant(TENANT, &format!("Id({TENANT})"));
    check_tenant(
        &format!("  {}\n", TENANT.to_uppercase()),
        &format!("Id({TENANT})\n{TENANT_WHITESPACE}"),
    );
    check_tenant(
        "contoso.onmicrosoft.com",
        r#"Domain("contoso.onmicrosoft.com")"#,
    );
    check_tenant(
        " Contoso.COM ",
        &format!("Domain(\"contoso.com\")\n{TENANT_WHITESPACE}"),
    );
    check_tenant(
        "eu-west.contoso-group.co.uk",
        r#"Domain("eu-west.contoso-group.co.uk")"#,
    );
    let longest_label = "a".repeat(63);
    check_tenant(
        &format!("{longest_label}.com"),
        &format!(r#"Domain("{longest_label}.com")"#),
    );

    check_tenant(
        "",
        "error: Enter the Directory (tenant) ID: a GUID shown in Microsoft Entra admin center → App registrations → your app → Overview, or a verified domain such as contoso.onmicrosoft.com.",
    );
    check_tenant("6f1f3b7e2b514f0e9d5e0c8c3a7d1a10", TENANT_MALFORMED);
    check_tenant("6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a1", TENANT_MALFORMED);
    check_tenant("6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a1g", TENANT_MALFORMED);
    check_tenant("contoso", TENANT_MALFORMED);
    check_tenant("-contoso.com", TENANT_MALFORMED);
    check_tenant("contoso-.com", TENANT_MALFORMED);
    check_tenant("contoso..com", TENANT_MALFORMED);
    check_tenant("contoso.com.", TENANT_MALFORMED);
    check_tenant("con_toso.com", TENANT_MALFORMED);
    check_tenant("contoso.c0m", TENANT_MALFORMED);
    check_tenant("10.0.0.1", TENANT_MALFORMED);
    check_tenant(&format!("{longest_label}a.com"), TENANT_MALFORMED);
    let too_long = format!("{longest_label}.{longest_label}.{longest_label}.{longest_label}.com");
    check_tenant(&too_long, TENANT_MALFORMED);
}

#[test]
fn tenant_id_refuses_aliases_special_tenants_and_urls() {
    let alias = |name: &str| {
        format!(
            "error: \"{name}\" stands for many tenants, but an app-only token needs your specific tenant: enter the Directory (tenant) ID from Microsoft Entra admin center → App registrations → your app → Overview."
        )
    };
    check_tenant("common", &alias("common"));
    check_tenant(
        " Organizations ",
        &format!("{}\n{TENANT_WHITESPACE}", alias("organizations")),
    );
    check_tenant("CONSUMERS", &alias("consumers"));

    check_tenant(
        "00000000-0000-0000-0000-000000000000",
        "error: The tenant ID cannot be all zeros; copy the Directory (tenant) ID from Microsoft Entra admin center → App registrations → your app → Overview.",
    );
    check_tenant("9188040D-6C67-4C5B-B112-36A304B66DAD", TENANT_CONSUMERS);

    check_tenant(
        &format!("{{{TENANT}}}"),
        &format!("error: Enter the tenant ID without braces: {TENANT}."),
    );
    check_tenant(
        &format!(
            "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
            TENANT.to_uppercase()
        ),
        TENANT_PASTE_ID,
    );
    check_tenant(
        &format!("login.microsoftonline.com/{TENANT}/v2.0"),
        TENANT_PASTE_ID,
    );
    check_tenant(
        &format!("https://sts.windows.net/{TENANT}/"),
        TENANT_PASTE_ID,
    );
    check_tenant(
        "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
        TENANT_CONSUMERS,
    );
    check_tenant(
        "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        &alias("common"),
    );
    check_tenant(
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/",
        TENANT_URL,
    );
    check_tenant("https://login.microsoftonline.com/", TENANT_URL);
    check_tenant("login.microsoftonline.com", TENANT_URL);
}

#[test]
fn client_id_is_a_guid_that_is_not_all_zeros() {
    check_client_id(CLIENT, CLIENT);
    check_client_id(
        &format!("  {}\n", CLIENT.to_uppercase()),
        &format!("{CLIENT}\n{CLIENT_WHITESPACE}"),
    );

    check_client_id(
        " ",
        "error: Enter the Application (client) ID: a GUID shown in Microsoft Entra admin center → App registrations → your app → Overview.",
    );
    check_client_id(
        "00000000-0000-0000-0000-000000000000",
        "error: The client ID cannot be all zeros; copy the Application (client) ID from Microsoft Entra admin center → App registrations → your app → Overview.",
    );
    check_client_id(
        &format!("{{{CLIENT}}}"),
        &format!("error: Enter the client ID without braces: {CLIENT}."),
    );
    check_client_id(
        &format!("api://{CLIENT}/"),
        &format!(
            "error: This is the Application ID URI; enter only the Application (client) ID: {CLIENT}."
        ),
    );
    check_client_id(
        "api://contoso.com/importer",
        "error: This is the Application ID URI, not the Application (client) ID; copy the GUID from Microsoft Entra admin center → App registrations → your app → Overview.",
    );
    check_client_id(
        TENANT,
        "error: This is the Directory (tenant) ID; enter the Application (client) ID from Microsoft Entra admin center → App registrations → your app → Overview.",
    );
    check_client_id("Contoso importer", CLIENT_MALFORMED);
    check_client_id("0b8f3c1e5d2a4e7b9c612f4a8d9e0b13", CLIENT_MALFORMED);
    check_client_id(&format!("urn:uuid:{CLIENT}"), CLIENT_MALFORMED);
}

#[test]
fn client_secret_is_required_and_trimmed_with_a_warning() {
    check_secret(SECRET, &format!("{SECRET:?}"));
    check_secret("", SECRET_EMPTY);
    check_secret(" \t\r\n", SECRET_EMPTY);
    check_secret(
        &format!("{SECRET}\n"),
        &format!("{SECRET:?}\n{SECRET_WHITESPACE}"),
    );
    check_secret(
        &format!(" {SECRET}\r\n"),
        &format!("{SECRET:?}\n{SECRET_WHITESPACE}"),
    );
    // Inner characters are the secret's own and stay.
    check_secret("Xy48Q~ inner space", "\"Xy48Q~ inner space\"");
}

#[test]
fn client_secret_that_looks_like_its_id_is_a_warning() {
    check_secret(SECRET_ID, &format!("{SECRET_ID:?}\n{SECRET_LOOKS_LIKE_ID}"));
    check_secret(
        &format!("{} ", SECRET_ID.to_uppercase()),
        &format!(
            "{:?}\n{SECRET_LOOKS_LIKE_ID}\n{SECRET_WHITESPACE}",
            SECRET_ID.to_uppercase()
        ),
    );
}

#[test]
fn reports_every_invalid_field_in_form_order() {
    let form = SourceForm {
        name: " ".to_owned(),
        environment_url: "http://10.0.0.1/".to_owned(),
        tenant_id: "common".to_owned(),
        client_id: "Contoso importer".to_owned(),
        client_secret: SecretString::from("   "),
    };
    let failure = validate(&form, &FormRules::default()).expect_err("every field is invalid");
    let rendered: Vec<String> = failure
        .errors
        .iter()
        .map(|error| format!("{}: {}", error.field, error.message))
        .collect();
    assert_eq!(
        rendered,
        [
            "Name: Enter a name for this source.",
            "Environment URL: The environment URL must use the environment's host name, such as https://contoso.crm.dynamics.com, not an IP address.",
            "Tenant ID: \"common\" stands for many tenants, but an app-only token needs your specific tenant: enter the Directory (tenant) ID from Microsoft Entra admin center → App registrations → your app → Overview.",
            "Client ID: The client ID must be a GUID such as 0b8f3c1e-5d2a-4e7b-9c61-2f4a8d9e0b13: the Application (client) ID from Microsoft Entra admin center → App registrations → your app → Overview, not the app's name.",
            "Client Secret: Enter the client secret: the Value shown when the secret was created in Microsoft Entra admin center → App registrations → your app → Certificates & secrets.",
        ]
    );
    assert!(failure.warnings.is_empty(), "{:?}", failure.warnings);
}

#[test]
fn warnings_ride_along_when_another_field_fails() {
    let form = SourceForm {
        name: String::new(),
        client_secret: SecretString::from(SECRET_ID),
        ..valid_form()
    };
    let failure = validate(&form, &FormRules::default()).expect_err("the name is missing");
    let fields: Vec<Field> = failure.errors.iter().map(|error| error.field).collect();
    assert_eq!(fields, [Field::Name]);
    let warnings: Vec<String> = failure
        .warnings
        .iter()
        .map(|warning| format!("{}: {}", warning.field.as_str(), warning.message))
        .collect();
    assert_eq!(
        warnings,
        [
            "client_secret: This looks like the secret's ID, not its value: Certificates & secrets shows both; copy the Value column."
        ]
    );
}

#[test]
fn no_message_contains_the_secret() {
    // Secrets pasted into every field, bare and inside the shapes each field explains back to
    // the user (URLs, braces, Application ID URIs). Messages only ever echo values that were
    // validated as GUIDs or Dynamics 365 hosts, which an Entra secret value never is.
    let secrets = [
        SECRET,
        "  Xy48Q~padded.secret_value-0123456789  ",
        "p@ss:w0rd/with?url#chars",
    ];
    let shapes = [
        "SECRET",
        "https://SECRET",
        "SECRET.crm.dynamics.com",
        "http://SECRET.crm.dynamics.com",
        "https://user:SECRET@contoso.crm.dynamics.com",
        "https://login.microsoftonline.com/SECRET/oauth2/v2.0/token",
        "{SECRET}",
        "api://SECRET",
    ];
    for secret in secrets {
        let exposed = secret.trim();
        for shape in shapes {
            let pasted = shape.replace("SECRET", exposed);
            let existing_names = [pasted.clone()];
            let rules = FormRules {
                existing_names: &existing_names,
                allowed_hosts: &[],
            };
            let form = SourceForm {
                name: pasted.clone(),
                environment_url: pasted.clone(),
                tenant_id: pasted.clone(),
                client_id: pasted.clone(),
                client_secret: SecretString::from(secret),
            };
            let failure = validate(&form, &rules).expect_err("no field is valid");
            assert_eq!(failure.errors.len(), 4, "{failure:?}");
            let messages = failure
                .errors
                .iter()
                .map(|error| &error.message)
                .chain(failure.warnings.iter().map(|warning| &warning.message));
            for message in messages {
                assert!(
                    !message.contains(exposed),
                    "{pasted:?} leaks into {message:?}"
                );
            }
        }
    }
}
