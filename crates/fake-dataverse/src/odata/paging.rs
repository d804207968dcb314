//! Server-driven paging: the `$skiptoken` paging cookie in Dataverse's shape and the
//! `@odata.nextLink` built from the request's own URL (reference §8.2).
//!
//! The documented link carries
//! `$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie%2520page%253d%25221%2522%253e%253ccontactid%2520last%253d%2522%257bD502…%257d%2522%2520first%253d%2522%257b49B0…%257d%2522%2520%252f%253e%253c%252fcookie%253e%22%20istracking=%22False%22%20/%3E`:
//! the inner `<cookie page="1"><contactid last="{GUID}" first="{GUID}" /></cookie>` is
//! percent-encoded with lower-case hex into the `pagingcookie` attribute of the outer
//! `<cookie pagenumber="2" … istracking="False" />`, which is percent-encoded again (upper-case
//! hex, `=` and `/` kept). `page` is the page just served, `pagenumber` the next one.

use uuid::Uuid;

/// What a `$skiptoken` says: the next page and the keys bounding the page just served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PagingCookie {
    /// The page the link asks for (`pagenumber`; the inner `page` is one less).
    pub(crate) page_number: u32,
    /// The primary key of the last row served.
    pub(crate) last: Uuid,
    /// The primary key of the first row served.
    pub(crate) first: Uuid,
}

impl PagingCookie {
    /// The `$skiptoken` value as it appears in the next link (already URL-encoded);
    /// `primary_id_attribute` names the inner element (`accountid`).
    pub(crate) fn to_skiptoken(self, primary_id_attribute: &str) -> String {
        let inner = format!(
            "<cookie page=\"{}\"><{primary_id_attribute} last=\"{{{}}}\" first=\"{{{}}}\" /></cookie>",
            self.page_number.saturating_sub(1),
            upper_guid(&self.last),
            upper_guid(&self.first),
        );
        let outer = format!(
            "<cookie pagenumber=\"{}\" pagingcookie=\"{}\" istracking=\"False\" />",
            self.page_number,
            encode_inner(&inner),
        );
        encode(&outer, KEEP_IN_SKIPTOKEN)
    }

    /// Reads a `$skiptoken` value as the query string decodes it (once), checking that the
    /// cookie is keyed by `primary_id_attribute`. The error says what is wrong with it.
    pub(crate) fn from_skiptoken(
        value: &str,
        primary_id_attribute: &str,
    ) -> Result<PagingCookie, String> {
        let outer = value.trim();
        let body = outer
            .strip_prefix("<cookie")
            .and_then(|rest| rest.trim_end().strip_suffix("/>"))
            .ok_or("it is not a <cookie … /> element")?;
        let page_number = attribute(body, "pagenumber")
            .ok_or("the pagenumber attribute is missing")?
            .parse::<u32>()
            .ok()
            .filter(|page| *page >= 2)
            .ok_or("pagenumber is not a page number of 2 or more")?;
        let encoded_inner =
            attribute(body, "pagingcookie").ok_or("the pagingcookie attribute is missing")?;
        let inner =
            percent_decode(encoded_inner).ok_or("pagingcookie is not percent-encoded text")?;
        let element_start = format!("<{primary_id_attribute} ");
        let element = inner
            .find(&element_start)
            .map(|start| &inner[start + element_start.len()..])
            .ok_or_else(|| format!("the inner cookie has no <{primary_id_attribute}> element"))?;
        let key = |name: &str| {
            attribute(element, name)
                .map(|text| text.trim_start_matches('{').trim_end_matches('}'))
                .and_then(|text| Uuid::try_parse(text).ok())
                .ok_or_else(|| format!("the {name} key is not a GUID"))
        };
        Ok(PagingCookie {
            page_number,
            last: key("last")?,
            first: key("first")?,
        })
    }
}

/// `@odata.nextLink`: `resource_url` (everything before `?` of the request, e.g.
/// `https://org.crm.dynamics.com/api/data/v9.2/accounts`), then the request's query options
/// in their order without `$skiptoken` and `$count`, then the new `$skiptoken`.
///
/// Option names are written decoded (`%24select` → `$select`) and values with only the
/// characters a URL cannot carry percent-encoded, which reproduces the documented links
/// (`$select=name&$filter=contains(name,'sample')&$skiptoken=…`, count-rows doc). `$count` is
/// left out as in the current count-rows example (an older version of that page repeated it).
pub(crate) fn next_link(
    resource_url: &str,
    raw_query: &str,
    cookie: &PagingCookie,
    primary_id_attribute: &str,
) -> String {
    let mut link = String::from(resource_url);
    let mut separator = '?';
    for (name, value) in super::decode_query(raw_query) {
        if name == "$skiptoken" || name == "$count" {
            continue;
        }
        link.push(separator);
        link.push_str(&encode(&name, KEEP_IN_LINK));
        link.push('=');
        link.push_str(&encode(&value, KEEP_IN_LINK));
        separator = '&';
    }
    link.push(separator);
    link.push_str("$skiptoken=");
    link.push_str(&cookie.to_skiptoken(primary_id_attribute));
    link
}

/// ASCII punctuation kept as is in re-encoded query options: what OData query text uses and a
/// URL query may carry (RFC 3986 `pchar`, `/` and `?`). `&`, `+`, `%`, `#`, quotes, brackets,
/// spaces and non-ASCII are escaped, so the link decodes to exactly the options received.
const KEEP_IN_LINK: &str = "$()',/:;=@!*-._~?";

/// Punctuation the outer skiptoken encoding keeps (documented example: `=` and `/` are bare).
const KEEP_IN_SKIPTOKEN: &str = "=/-._~";

fn encode(text: &str, keep: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || keep.as_bytes().contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The inner cookie's encoding: everything but letters, digits and `-._~`, lower-case hex.
fn encode_inner(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len() * 2);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02x}"));
        }
    }
    encoded
}

/// Decodes `%XX` escapes (either case); `None` for a broken escape or invalid UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// The value of `name="…"` in an XML start tag's attribute text.
fn attribute<'t>(element: &'t str, name: &str) -> Option<&'t str> {
    let mut rest = element;
    loop {
        let start = rest.find(name)?;
        let before = rest[..start].chars().next_back();
        let after = &rest[start + name.len()..];
        if before.is_none_or(char::is_whitespace)
            && let Some(value) = after.strip_prefix("=\"")
        {
            return value.find('"').map(|end| &value[..end]);
        }
        rest = after;
    }
}

fn upper_guid(guid: &Uuid) -> String {
    guid.hyphenated().to_string().to_ascii_uppercase()
}
