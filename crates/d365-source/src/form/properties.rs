//! Property tests for [`validate`], one block per field: realistic generators (what users
//! paste, and what an attacker would try) next to arbitrary text. Each property changes one
//! field of a valid form, so it also proves that a rejection lands on that field alone; it
//! checks the invariants of every accepted value and the shape of every error.

use proptest::prelude::*;
use secrecy::{ExposeSecret as _, SecretString};
use url::{Host, Url};
use uuid::Uuid;

use super::{Cloud, Draft, Field, FormErrors, FormRules, SourceForm, TenantId, validate};

const TENANT: &str = "6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10";
const CLIENT: &str = "0b8f3c1e-5d2a-4e7b-9c61-2f4a8d9e0b13";
const SECRET: &str = "Xy48Q~k2Jd.vS_0aLw-3pRnTq8uYbZ1cFh6gMe9t";
const CONSUMERS: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// Hosts the generated allow-lists draw from (some mixed-case, one with a trailing dot).
const ALLOWABLE: [&str; 4] = [
    "crm.contoso.test",
    "CRM.Fabrikam.example",
    "dataverse.internal.",
    "10.0.0.7",
];

fn valid_form() -> SourceForm {
    SourceForm {
        name: "Contoso production".to_owned(),
        environment_url: "https://contoso.crm.dynamics.com".to_owned(),
        tenant_id: TENANT.to_owned(),
        client_id: CLIENT.to_owned(),
        client_secret: SecretString::from(SECRET),
    }
}

/// The one error of a form whose only invalid field is `field`: a sentence (capital first, full
/// stop last) on that field, and nothing on any other.
fn assert_one_error_on(failure: &FormErrors, field: Field) -> Result<(), TestCaseError> {
    prop_assert_eq!(failure.errors.len(), 1, "{:?}", failure);
    let error = &failure.errors[0];
    prop_assert_eq!(error.field, field, "{:?}", failure);
    prop_assert!(
        error
            .message
            .starts_with(|c: char| c.is_uppercase() || c == '"' || c.is_ascii_digit())
            && error.message.ends_with('.'),
        "not a sentence: {:?}",
        error.message
    );
    Ok(())
}

/// `text` with the letters at the positions `mask` marks in upper case, the others in lower.
fn mixed_case(text: &str, mask: &[bool]) -> String {
    if mask.is_empty() {
        return text.to_owned();
    }
    text.chars()
        .zip(mask.iter().cycle())
        .map(|(c, upper)| {
            if *upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

// ---- Environment URL ----

/// Region domains: every known one, near misses, and a few look-alikes.
fn region() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("crm.dynamics.com".to_owned()),
        (2_u32..=30).prop_map(|n| format!("crm{n}.dynamics.com")),
        Just("crm9.dynamics.com".to_owned()),
        Just("crm.microsoftdynamics.us".to_owned()),
        Just("crm.appsplatform.us".to_owned()),
        Just("crm.dynamics.cn".to_owned()),
        prop_oneof![Just(0_u32), Just(1), Just(31), Just(99), Just(256)]
            .prop_map(|n| format!("crm{n}.dynamics.com")),
        Just("crm02.dynamics.com".to_owned()),
        Just("crm.dynamics.com.evil.example".to_owned()),
        Just("dynamics.com".to_owned()),
        Just("crm.dynamics.co".to_owned()),
        Just("api.crm.dynamics.com".to_owned()),
    ]
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ("[a-z0-9][a-z0-9-]{0,14}", prop::option::of(Just(".api")), region())
            .prop_map(|(org, api, region)| format!("{org}{}.{region}", api.unwrap_or_default())),
        1 => ("[a-z0-9-]{60,66}", region()).prop_map(|(org, region)| format!("{org}.{region}")),
        1 => region(),
        1 => prop_oneof![Just("globaldisco"), Just("disco"), Just("-contoso"), Just("contoso-"),
                         Just("con_toso"), Just("xn--bcher-kva"), Just("bücher"),
                         Just("contoso%2ecrm"), Just("con%74oso"), Just("a.b")]
            .prop_flat_map(|org| region().prop_map(move |region| format!("{org}.{region}"))),
        1 => any::<[u8; 4]>().prop_map(|[a, b, c, d]| format!("{a}.{b}.{c}.{d}")),
        1 => any::<[u16; 8]>().prop_map(|parts| {
            let parts: Vec<String> = parts.iter().map(|part| format!("{part:x}")).collect();
            format!("[{}]", parts.join(":"))
        }),
        1 => Just("[::1]".to_owned()),
        1 => Just("0x7f.1".to_owned()),
        1 => Just("2130706433".to_owned()),
        1 => prop::sample::select(&ALLOWABLE[..]).prop_map(str::to_owned),
        1 => prop_oneof![Just("make.powerapps.com"), Just("admin.powerplatform.microsoft.com"),
                         Just("contoso.sharepoint.com"), Just("localhost"),
                         Just("login.microsoftonline.com")].prop_map(str::to_owned),
        1 => "[a-z0-9.-]{1,24}",
        1 => "\\PC{1,12}",
    ]
}

/// Something users (or attackers) type in the Environment URL field.
fn environment_input() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        4 => Just("https://"),
        2 => Just(""),
        1 => Just("http://"),
        1 => Just("HTTPS://"),
        1 => Just("ftp://"),
        1 => Just("file://"),
        1 => Just("wss://"),
        1 => Just("javascript:"),
        1 => Just("https:/"),
        1 => Just("//"),
    ];
    let user_info = prop_oneof![
        6 => Just(""),
        1 => Just("user@"),
        1 => Just("user:pass@"),
        1 => Just(":@"),
        1 => Just("contoso.crm.dynamics.com@"),
        1 => Just("%40@"),
    ];
    let port = prop_oneof![
        6 => Just(String::new()),
        1 => Just(":443".to_owned()),
        1 => Just(":".to_owned()),
        1 => any::<u16>().prop_map(|port| format!(":{port}")),
        1 => Just(":99999".to_owned()),
    ];
    let rest = prop_oneof![
        4 => Just(""),
        1 => Just("/"),
        1 => Just("/main.aspx?appid=1b2c&pagetype=entitylist"),
        1 => Just("/api/data/v9.2/"),
        1 => Just("?x=1"),
        1 => Just("#fragment"),
        1 => Just("/%2e%2e/%2F"),
        1 => Just("/environments/5c1a2b3c/home"),
    ];
    let whitespace = prop_oneof![Just(""), Just(" "), Just("\t"), Just("\n ")];
    // What a user pastes from the admin center: mostly valid, so acceptance is exercised.
    let plausible = (
        prop::sample::select(&["https://", "", "HTTPS://"][..]),
        (
            "[a-z0-9][a-z0-9-]{0,14}",
            prop::option::of(Just(".api")),
            region(),
        )
            .prop_map(|(org, api, region)| format!("{org}{}.{region}", api.unwrap_or_default())),
        prop::sample::select(&["", ".", ":443", "/", "/main.aspx?appid=1b2c"][..]),
        prop::collection::vec(any::<bool>(), 0..8),
    )
        .prop_map(|(scheme, host, tail, mask)| mixed_case(&format!("{scheme}{host}{tail}"), &mask));
    prop_oneof![
        4 => plausible,
        8 => (
            scheme,
            user_info,
            host(),
            prop::bool::weighted(0.2),
            port,
            rest,
            prop::collection::vec(any::<bool>(), 0..8),
            whitespace,
        )
            .prop_map(|(scheme, user_info, host, dot, port, rest, mask, space)| {
                let dot = if dot { "." } else { "" };
                let url = format!("{scheme}{user_info}{host}{dot}{port}{rest}");
                format!("{space}{}{space}", mixed_case(&url, &mask))
            }),
        1 => any::<String>(),
        1 => "\\PC*",
    ]
}

/// The host's cloud when it is `{org}.{region}` on a known Dynamics 365 region domain, written
/// out independently of the code under test.
fn known_cloud(host: &str) -> Option<Cloud> {
    let (org, region) = host.split_once('.')?;
    let org_ok = (1..=63).contains(&org.len())
        && !org.starts_with('-')
        && !org.ends_with('-')
        && org
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !org_ok {
        return None;
    }
    match region {
        "crm.dynamics.com" => Some(Cloud::Public),
        "crm9.dynamics.com" => Some(Cloud::UsGcc),
        "crm.microsoftdynamics.us" => Some(Cloud::UsGccHigh),
        "crm.appsplatform.us" => Some(Cloud::UsDod),
        "crm.dynamics.cn" => Some(Cloud::China),
        _ => (2..=30)
            .filter(|n| *n != 9)
            .any(|n| region == format!("crm{n}.dynamics.com"))
            .then_some(Cloud::Public),
    }
}

/// The invariants of an accepted environment.
fn assert_safe_environment(draft: &Draft, allowed: &[String]) -> Result<(), TestCaseError> {
    let environment = &draft.environment;
    let url = Url::parse(environment.as_str()).expect("a normalised URL parses");
    prop_assert_eq!(url.scheme(), "https");
    prop_assert_eq!(url.username(), "");
    prop_assert_eq!(url.password(), None);
    prop_assert_eq!(url.port_or_known_default(), Some(443));
    prop_assert!(
        url.path() == "/" && url.query().is_none() && url.fragment().is_none(),
        "{}",
        url
    );
    prop_assert!(
        matches!(url.host(), Some(Host::Domain(_))),
        "not a host name: {}",
        url
    );
    prop_assert_eq!(
        environment.as_str(),
        format!("https://{}", environment.host())
    );
    let host = environment.host();
    prop_assert!(
        !host.ends_with('.') && host == host.to_ascii_lowercase(),
        "{}",
        host
    );
    let allow_listed = allowed
        .iter()
        .any(|allowed| allowed.trim().eq_ignore_ascii_case(host));
    match known_cloud(host) {
        Some(cloud) if !allow_listed => prop_assert_eq!(environment.cloud(), cloud),
        _ => {
            prop_assert!(allow_listed, "{} is on no known cloud", host);
            prop_assert_eq!(environment.cloud(), Cloud::AllowListed);
        }
    }
    Ok(())
}

fn allow_list() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::sample::select(&ALLOWABLE[..]).prop_map(str::to_owned),
        0..3,
    )
}

proptest! {
    #[test]
    fn an_accepted_environment_url_is_an_https_dynamics_host_and_normalises_to_itself(
        input in environment_input(),
        allowed in allow_list(),
    ) {
        let rules = FormRules { existing_names: &[], allowed_hosts: &allowed };
        let form = SourceForm { environment_url: input.clone(), ..valid_form() };
        match validate(&form, &rules) {
            Ok(draft) => {
                assert_safe_environment(&draft, &allowed)?;
                let again = SourceForm {
                    environment_url: draft.environment.as_str().to_owned(),
                    ..valid_form()
                };
                let again = validate(&again, &rules).expect("a normalised URL is valid");
                prop_assert_eq!(again.environment, draft.environment);
            }
            Err(failure) => assert_one_error_on(&failure, Field::EnvironmentUrl)?,
        }
    }

    #[test]
    fn an_accepted_tenant_is_a_work_tenant_guid_or_a_domain(input in tenant_input()) {
        prop_assume!(!input.to_ascii_lowercase().contains(CLIENT));
        let form = SourceForm { tenant_id: input.clone(), ..valid_form() };
        match validate(&form, &FormRules::default()) {
            Ok(draft) => {
                let typed = input.trim().to_ascii_lowercase();
                match &draft.tenant {
                    TenantId::Id(id) => {
                        prop_assert!(!id.is_nil());
                        prop_assert_ne!(id.to_string(), CONSUMERS);
                        prop_assert_eq!(id.hyphenated().to_string(), typed);
                    }
                    TenantId::Domain(domain) => {
                        prop_assert_eq!(domain, &typed);
                        prop_assert!(
                            domain.contains('.')
                                && domain
                                    .bytes()
                                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()
                                        || b == b'.' || b == b'-'),
                            "{}", domain
                        );
                        prop_assert!(!super::SIGN_IN_HOSTS.contains(&domain.as_str()), "{}", domain);
                    }
                }
                prop_assert!(
                    !["common", "organizations", "consumers"].contains(&draft.tenant.to_string().as_str())
                );
            }
            Err(failure) => assert_one_error_on(&failure, Field::TenantId)?,
        }
    }

    #[test]
    fn an_accepted_client_id_is_a_hyphenated_guid_other_than_the_tenant(
        input in client_input(),
    ) {
        let form = SourceForm { client_id: input.clone(), ..valid_form() };
        match validate(&form, &FormRules::default()) {
            Ok(draft) => {
                prop_assert!(!draft.client_id.is_nil());
                prop_assert_ne!(draft.client_id.to_string(), TENANT);
                prop_assert_eq!(
                    draft.client_id.hyphenated().to_string(),
                    input.trim().to_ascii_lowercase()
                );
            }
            Err(failure) => assert_one_error_on(&failure, Field::ClientId)?,
        }
    }

    #[test]
    fn an_accepted_name_is_trimmed_bounded_printable_and_new(
        input in name_input(),
        existing in prop::collection::vec("[A-Za-z ]{1,12}", 0..3),
    ) {
        let rules = FormRules { existing_names: &existing, allowed_hosts: &[] };
        let form = SourceForm { name: input.clone(), ..valid_form() };
        match validate(&form, &rules) {
            Ok(draft) => {
                prop_assert_eq!(draft.name.as_str(), input.trim());
                prop_assert!((1..=100).contains(&draft.name.chars().count()));
                prop_assert!(!draft.name.chars().any(char::is_control));
                let folded = draft.name.to_lowercase();
                prop_assert!(!existing.iter().any(|name| name.trim().to_lowercase() == folded));
                let again = SourceForm { name: draft.name.clone(), ..valid_form() };
                let again = validate(&again, &rules).expect("an accepted name is valid");
                prop_assert_eq!(again.name, draft.name);
            }
            Err(failure) => assert_one_error_on(&failure, Field::Name)?,
        }
    }

    #[test]
    fn a_secret_is_trimmed_and_never_echoed(
        secret in secret_input(),
        pasted_into in prop::sample::select(&[Field::Name, Field::EnvironmentUrl, Field::TenantId, Field::ClientId][..]),
    ) {
        // The secret is also pasted into another field, the classic slip, which must not make
        // that field's error repeat it.
        let mut form = SourceForm { client_secret: SecretString::from(secret.clone()), ..valid_form() };
        let pasted = secret.trim().to_owned();
        match pasted_into {
            Field::Name => form.name = format!("https://{pasted}"),
            Field::EnvironmentUrl => form.environment_url = pasted.clone(),
            Field::TenantId => form.tenant_id = pasted.clone(),
            _ => form.client_id = pasted.clone(),
        }
        let (errors, warnings) = match validate(&form, &FormRules::default()) {
            Ok(draft) => {
                prop_assert_eq!(draft.client_secret.expose_secret(), secret.trim());
                (Vec::new(), draft.warnings)
            }
            Err(failure) => (failure.errors, failure.warnings),
        };
        let secret_refused = errors.iter().any(|error| error.field == Field::ClientSecret);
        prop_assert_eq!(secret_refused, secret.trim().is_empty());
        for message in errors.iter().map(|e| &e.message).chain(warnings.iter().map(|w| &w.message)) {
            prop_assert!(!message.contains(&pasted) || pasted.is_empty(), "{:?} echoes the secret", message);
        }
    }

    #[test]
    fn any_form_gets_one_error_at_most_per_field_in_form_order(
        name in any::<String>(),
        environment_url in environment_input(),
        tenant_id in tenant_input(),
        client_id in client_input(),
        secret in any::<String>(),
    ) {
        // Only the secret (a GUID-shaped one) or a field pasted with surrounding whitespace is
        // warned about.
        let padded = |text: &str| text.trim() != text;
        let mut may_warn = vec![Field::ClientSecret];
        for (field, text) in [
            (Field::Name, &name),
            (Field::EnvironmentUrl, &environment_url),
            (Field::TenantId, &tenant_id),
            (Field::ClientId, &client_id),
        ] {
            if padded(text) {
                may_warn.push(field);
            }
        }
        let form = SourceForm {
            name, environment_url, tenant_id, client_id,
            client_secret: SecretString::from(secret),
        };
        if let Err(failure) = validate(&form, &FormRules::default()) {
            prop_assert!(!failure.errors.is_empty());
            let fields: Vec<Field> = failure.errors.iter().map(|error| error.field).collect();
            prop_assert!(fields.windows(2).all(|pair| pair[0] < pair[1]), "{:?}", fields);
            prop_assert!(
                failure.warnings.iter().all(|w| may_warn.contains(&w.field)),
                "{:?} warned, only {:?} may be", failure.warnings, may_warn
            );
        }
    }
}

// ---- Tenant ID, Client ID, Name, Client Secret ----

/// A GUID written the ways people paste one.
fn guid_text() -> impl Strategy<Value = String> {
    let guid = prop_oneof![
        6 => any::<u128>().prop_map(Uuid::from_u128),
        1 => Just(Uuid::nil()),
        1 => Just(Uuid::parse_str(CONSUMERS).expect("a GUID")),
        1 => Just(Uuid::parse_str(TENANT).expect("a GUID")),
        1 => Just(Uuid::parse_str(CLIENT).expect("a GUID")),
    ];
    (guid, 0_u8..6, prop::collection::vec(any::<bool>(), 0..8)).prop_map(|(id, shape, mask)| {
        let text = match shape {
            0 | 1 => id.hyphenated().to_string(),
            2 => id.braced().to_string(),
            3 => id.simple().to_string(),
            4 => id.urn().to_string(),
            _ => format!("{}x", id.hyphenated()),
        };
        mixed_case(&text, &mask)
    })
}

fn tenant_input() -> impl Strategy<Value = String> {
    let domain = prop::collection::vec("[a-z0-9][a-z0-9-]{0,10}", 1..4).prop_flat_map(|labels| {
        prop_oneof![Just("com"), Just("onmicrosoft.com"), Just("io"), Just("42")]
            .prop_map(move |top| format!("{}.{top}", labels.join(".")))
    });
    prop_oneof![
        4 => guid_text(),
        3 => domain,
        1 => (prop::sample::select(&["common", "organizations", "consumers"][..]),
              prop::collection::vec(any::<bool>(), 0..8))
            .prop_map(|(alias, mask)| mixed_case(alias, &mask)),
        1 => prop::sample::select(&["login.microsoftonline.com", "sts.windows.net",
                                    "login.chinacloudapi.cn"][..]).prop_map(str::to_owned),
        1 => guid_text().prop_map(|id| format!("https://login.microsoftonline.com/{id}/oauth2/v2.0/token")),
        1 => guid_text().prop_map(|id| format!("  {id}\t")),
        1 => any::<String>(),
    ]
}

fn client_input() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => guid_text(),
        1 => guid_text().prop_map(|id| format!("api://{id}/")),
        1 => guid_text().prop_map(|id| format!(" {id} ")),
        1 => Just("Contoso importer".to_owned()),
        1 => any::<String>(),
    ]
}

fn name_input() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[ \t]{0,2}[A-Za-z0-9 ()-]{0,30}[ \t\n]{0,2}",
        1 => "[A-Za-z]{95,105}",
        1 => "[A-Za-z ]{1,12}",
        1 => "Contoso[\t\n\u{7}]CRM",
        1 => "\\PC{0,20}",
        1 => any::<String>(),
    ]
}

/// Entra-shaped secret values (40 characters, with `~`), arbitrary text, blank text, and
/// values with surrounding whitespace.
fn secret_input() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9]{3}[0-9]Q~[A-Za-z0-9._~-]{34}",
        1 => "[ \t\n]{0,3}",
        1 => "[ \t]{1,2}[A-Za-z0-9]{4}~[A-Za-z0-9._~-]{10,30}[ \n]{1,2}",
        1 => "[A-Za-z0-9]{4}~\\PC{4,30}",
    ]
}
