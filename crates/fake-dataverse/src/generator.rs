//! Deterministic rows for generated tables: row `index` of a table is made on demand from
//! (seed, table, index) in O(1), without global state, so a million-row table costs no memory.
//! Start at [`RowGenerator`] and [`row_id`]. Invariants: the same inputs give the same row;
//! `row_index(row_id(i)) == Some(i)`; lookups only point to rows that exist (ids the world
//! gives, or generated rows below the target table's count). `generator/ids.rs` holds the id
//! bijection, `generator/json.rs` the JSON writing, `generator/words.rs` the word lists.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use uuid::Uuid;

use crate::odata::Row;
use crate::schema::{ColumnDefinition, ColumnKind, OptionValue, TableDefinition};

mod ids;
mod json;
mod words;

use ids::{fnv1a, id_suffix, splitmix, table_key};
use json::{Cell, Text, write_json_string};
use words::{
    CASE_TITLES, CITIES, COMPANY_STEMS, CURRENCIES, CUSTOM_ROLES, City, Currency, FIRST_NAMES,
    JOB_TITLES, LAST_NAMES, LEGAL_FORMS, PRODUCTS, REGIONS, SECTORS, STREET_KINDS, STREETS,
    TEAM_FUNCTIONS,
};

/// Generated tables hold at most 2^47 rows (indices below `MAX_ROWS`): the first 48 bits of
/// an id are a per-table offset below 2^47 plus the index, so both must stay below 2^47 to fit.
/// Nothing checks a table's `count` against it: a larger table's ids would wrap (and trip the
/// debug assertion in [`row_id`]).
pub(crate) const MAX_ROWS: u64 = 1 << 47;

/// `2025-01-01T00:00:00Z`: the newest `createdon`/`modifiedon` unless a spec says otherwise.
pub(crate) const DEFAULT_NEWEST: i64 = 1_735_689_600;

/// Six years of history before [`DEFAULT_NEWEST`].
pub(crate) const DEFAULT_HISTORY_SECONDS: i64 = 6 * 365 * DAY;

const DAY: i64 = 86_400;

/// An owner rows are spread over: a user or team and the business unit that owns its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    /// `_ownerid_value`: a `systemuserid` or `teamid`.
    pub(crate) owner_id: Uuid,
    /// `_owningbusinessunit_value`.
    pub(crate) business_unit_id: Uuid,
}

/// Everything a generated row depends on besides its table and index.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GeneratorSpec {
    /// The seed: another seed gives other ids and other values.
    pub(crate) seed: u64,
    /// Generated rows per table (logical name → count): this table's and those lookups point to.
    pub(crate) row_counts: BTreeMap<String, u64>,
    /// Rows the world defines with fixed ids (the root business unit, the base currency, ...);
    /// lookups to a table pick among these first, then among its generated rows.
    pub(crate) given_rows: BTreeMap<String, Vec<Uuid>>,
    /// Owners of user-owned rows, spread deterministically; no owner leaves `ownerid` empty.
    pub(crate) owners: Vec<Owner>,
    /// Owners of the rows of particular tables (logical name → owners), instead of `owners`.
    pub(crate) table_owners: BTreeMap<String, Vec<Owner>>,
    /// The newest `createdon`/`modifiedon`, in Unix seconds.
    pub(crate) newest: i64,
    /// How far before `newest` the oldest row was created, in seconds.
    pub(crate) history_seconds: i64,
    /// Names and template ids that generated `role` rows take first (the predefined roles).
    pub(crate) role_templates: Vec<(String, Option<Uuid>)>,
}

impl GeneratorSpec {
    /// A spec with no rows, no owners, the default time window and the predefined roles.
    pub(crate) fn new(seed: u64) -> GeneratorSpec {
        GeneratorSpec {
            seed,
            row_counts: BTreeMap::new(),
            given_rows: BTreeMap::new(),
            owners: Vec::new(),
            table_owners: BTreeMap::new(),
            newest: DEFAULT_NEWEST,
            history_seconds: DEFAULT_HISTORY_SECONDS,
            role_templates: crate::standard_tables::predefined_roles()
                .into_iter()
                .map(|role| (role.name, role.template_id))
                .collect(),
        }
    }

    /// How many rows of `table` are generated.
    pub(crate) fn row_count(&self, table: &str) -> u64 {
        self.row_counts.get(table).copied().unwrap_or(0)
    }

    /// The rows of `table` the world gives with fixed ids.
    pub(crate) fn given(&self, table: &str) -> &[Uuid] {
        self.given_rows.get(table).map_or(&[], Vec::as_slice)
    }
}

/// The id of generated row `index` of `table`.
///
/// Ids are sequential, like the ids Dataverse hands out (`5b4ced1c-88e1-ee11-904c-6045bd05e9d4`:
/// a `…11` third group, an RFC 4122 variant, an Azure MAC as node): the node, third and fourth
/// groups are fixed per (seed, table), and the first 48 bits hold a per-table offset plus the
/// index, laid out so that SQL Server's `uniqueidentifier` order (bytes 5, 4, 3, 2, 1, 0 after
/// the fixed ones) is the index order. So a generated table's primary-key order is its index
/// order, and paging through it needs no sort. Indices at or above [`MAX_ROWS`] wrap.
pub(crate) fn row_id(seed: u64, table: &str, index: u64) -> Uuid {
    debug_assert!(
        index < MAX_ROWS,
        "row index {index} of `{table}` is too large"
    );
    let key = table_key(seed, table);
    let value = (key & (MAX_ROWS - 1)) + (index & (MAX_ROWS - 1));
    let bytes = value.to_be_bytes();
    let (third, fourth) = id_suffix(key);
    Uuid::from_fields(
        u32::from_be_bytes([bytes[7], bytes[6], bytes[5], bytes[4]]),
        u16::from_be_bytes([bytes[3], bytes[2]]),
        third,
        &fourth,
    )
}

/// The index `id` was generated from, if it is a generated row of `table` under `seed`; the
/// caller checks it against the table's row count.
pub(crate) fn row_index(seed: u64, table: &str, id: Uuid) -> Option<u64> {
    let key = table_key(seed, table);
    let (first, second, third, fourth) = id.as_fields();
    if (third, *fourth) != id_suffix(key) {
        return None;
    }
    let [b5, b4, b3, b2] = first.to_be_bytes();
    let [b1, b0] = second.to_be_bytes();
    let value = u64::from_be_bytes([0, 0, b0, b1, b2, b3, b4, b5]);
    value.checked_sub(key & (MAX_ROWS - 1))
}

/// Which of `tables` generated `id`, and at which index: tells the target of a customer lookup.
#[cfg(test)]
pub(crate) fn identify<'a>(seed: u64, tables: &[&'a str], id: Uuid) -> Option<(&'a str, u64)> {
    tables
        .iter()
        .find_map(|table| row_index(seed, table, id).map(|index| (*table, index)))
}

/// Row `index` of `table` without keeping a [`RowGenerator`]; only tests use it.
#[cfg(test)]
pub(crate) fn generate_row(spec: &GeneratorSpec, table: &TableDefinition, index: u64) -> Row {
    RowGenerator::new(spec, table).row(index)
}

/// Makes the rows of one table: the per-table work (column keys, hashes, lookup targets) done
/// once, for callers that make many rows of one table, a page at a time.
#[derive(Debug)]
pub(crate) struct RowGenerator<'a> {
    spec: &'a GeneratorSpec,
    table: &'a TableDefinition,
    key: u64,
    rows: u64,
    columns: Vec<ColumnPlan<'a>>,
    states: Option<StateModel>,
    first_status: i32,
    first_state: i32,
    tenant_domain: String,
}

#[derive(Debug)]
struct ColumnPlan<'a> {
    column: &'a ColumnDefinition,
    /// The Web API property name.
    key: String,
    salt: u64,
    /// Lookups only: where the value may point.
    targets: Vec<TargetPlan<'a>>,
}

#[derive(Debug)]
struct TargetPlan<'a> {
    table: &'a str,
    given: &'a [Uuid],
    generated: u64,
    /// A table pointing to itself only sees rows with a lower index: hierarchies have no cycles.
    same_table: bool,
}

impl TargetPlan<'_> {
    fn candidates(&self, index: u64) -> u64 {
        let generated = if self.same_table {
            index.min(self.generated)
        } else {
            self.generated
        };
        self.given.len() as u64 + generated
    }
}

impl<'a> RowGenerator<'a> {
    /// Prepares rows of `table` under `spec`.
    pub(crate) fn new(spec: &'a GeneratorSpec, table: &'a TableDefinition) -> RowGenerator<'a> {
        let columns = table
            .columns
            .iter()
            .map(|column| ColumnPlan {
                column,
                key: column.web_api_name(),
                salt: fnv1a(&column.logical_name),
                targets: match &column.kind {
                    ColumnKind::Lookup { targets } => targets
                        .iter()
                        .map(|target| TargetPlan {
                            table: target,
                            given: spec.given(target),
                            generated: spec.row_count(target),
                            same_table: *target == table.logical_name,
                        })
                        .collect(),
                    _ => Vec::new(),
                },
            })
            .collect();
        let options = |wanted: fn(&ColumnKind) -> Option<&Vec<OptionValue>>| {
            table
                .columns
                .iter()
                .find_map(|column| wanted(&column.kind))
                .map_or(0, |options| first_value(options))
        };
        let has_state = table
            .columns
            .iter()
            .any(|column| matches!(column.kind, ColumnKind::State { .. }));
        let stem = pick(COMPANY_STEMS, splitmix(spec.seed ^ 0x7E4A47));
        RowGenerator {
            spec,
            table,
            key: table_key(spec.seed, &table.logical_name),
            rows: spec.row_count(&table.logical_name),
            columns,
            states: if has_state {
                STATE_MODELS
                    .iter()
                    .find(|(name, _)| *name == table.logical_name)
                    .map(|(_, model)| *model)
            } else {
                None
            },
            first_state: options(|kind| match kind {
                ColumnKind::State { options } => Some(options),
                _ => None,
            }),
            first_status: options(|kind| match kind {
                ColumnKind::Status { options } => Some(options),
                _ => None,
            }),
            tenant_domain: format!("{}.onmicrosoft.com", slug(stem)),
        }
    }

    /// Row `index`: a value of the right JSON type for every column, realistic for its name
    /// (company and person names, emails derived from them, phones, addresses, amounts,
    /// picklist values from the column's options, dates in the spec's window), `null` where a
    /// lookup has nothing to point to.
    pub(crate) fn row(&self, index: u64) -> Row {
        let context = RowContext::new(self, index);
        // Collecting sorts once and builds the map in bulk: cheaper than one insert per column.
        self.columns
            .iter()
            .map(|plan| (plan.key.clone(), context.value(plan).into_value()))
            .collect()
    }

    /// Writes row `index` as JSON properties, `"name":value` joined by commas and without braces,
    /// so the caller can add `@odata.etag` and annotations around them. `columns` are positions
    /// in the table's columns (see [`RowGenerator::position`]); `None` writes every column.
    /// Values are those of [`RowGenerator::row`]; this path makes no map and few allocations,
    /// for paging through large tables.
    pub(crate) fn write_properties(
        &self,
        index: u64,
        columns: Option<&[usize]>,
        out: &mut Vec<u8>,
    ) {
        let context = RowContext::new(self, index);
        let every: Vec<usize>;
        let positions = match columns {
            Some(columns) => columns,
            None => {
                every = (0..self.columns.len()).collect();
                &every
            }
        };
        let mut first = true;
        for plan in positions
            .iter()
            .filter_map(|position| self.columns.get(*position))
        {
            if !first {
                out.push(b',');
            }
            first = false;
            write_json_string(out, &plan.key);
            out.push(b':');
            context.value(plan).write_json(out);
        }
    }

    /// Only the columns at `positions` of row `index` (see [`RowGenerator::position`]), with
    /// the values of [`RowGenerator::row`]: what an ordered scan reads to rank a row without
    /// making all of it.
    pub(crate) fn partial_row(&self, index: u64, positions: &[usize]) -> Row {
        let context = RowContext::new(self, index);
        positions
            .iter()
            .filter_map(|position| self.columns.get(*position))
            .map(|plan| (plan.key.clone(), context.value(plan).into_value()))
            .collect()
    }

    /// The position of the column whose Web API name is `name` (`_ownerid_value`, `revenue`).
    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|plan| plan.key == name)
    }

    /// The owner of row `index` (what `_ownerid_value` says), without making the row: enough
    /// for Basic and Local depth checks.
    pub(crate) fn owner(&self, index: u64) -> Option<Owner> {
        RowContext::new(self, index).owner.copied()
    }

    /// `versionnumber` of row `index` (the `@odata.etag`), if the table has one.
    pub(crate) fn version_number(&self, index: u64) -> Option<i64> {
        let plan = self
            .columns
            .iter()
            .find(|plan| plan.key == "versionnumber")?;
        match RowContext::new(self, index).value(plan) {
            Cell::Integer(version) => Some(version),
            _ => None,
        }
    }
}

/// What one row is about, worked out once and shared by its columns so they agree (the email
/// matches the name, `owningbusinessunit` matches the owner, `statuscode` matches `statecode`).
struct RowContext<'g, 'a> {
    generator: &'g RowGenerator<'a>,
    index: u64,
    base: u64,
    person: Person,
    company: Company,
    city: &'static City,
    owner: Option<&'a Owner>,
    created: i64,
    modified: i64,
    state: Option<(i32, i32)>,
    /// The company's web domain, made once when a column first needs it.
    domain: OnceCell<String>,
}

struct Person {
    first: &'static str,
    last: &'static str,
    /// Appended to emails and user names once the name combinations run out.
    number: u64,
}

struct Company {
    stem: &'static str,
    sector: Option<&'static str>,
    legal: &'static str,
}

// Salts of columns other columns depend on.
const SALT_EMPLOYEES: u64 = fnv1a("numberofemployees");
const SALT_TEAM_TYPE: u64 = fnv1a("teamtype");
const SALT_QUANTITY: u64 = fnv1a("quantity");
const SALT_REGION: u64 = fnv1a("region");
const SALT_NAME: u64 = fnv1a("name");
const SALT_DESCRIPTION: u64 = fnv1a("description");

impl<'g, 'a> RowContext<'g, 'a> {
    fn new(generator: &'g RowGenerator<'a>, index: u64) -> RowContext<'g, 'a> {
        let spec = generator.spec;
        let base = splitmix(generator.key ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let owners = spec
            .table_owners
            .get(generator.table.logical_name.as_str())
            .unwrap_or(&spec.owners);
        let owner = match owners.len() {
            0 => None,
            count => owners.get((splitmix(base ^ 0x0E4E) % count as u64) as usize),
        };
        let (created, modified) = timeline(spec, generator.rows, index, base);
        let state = match generator.states {
            Some(model) => state_and_status(model, splitmix(base ^ 0x57A7E)),
            None => Some((generator.first_state, generator.first_status)),
        };
        RowContext {
            generator,
            index,
            base,
            person: person(index, generator.key),
            company: company(index, generator.key),
            city: &CITIES[(splitmix(base ^ 0xC17E) % CITIES.len() as u64) as usize],
            owner,
            created,
            modified,
            state,
            domain: OnceCell::new(),
        }
    }

    fn domain(&self) -> &str {
        self.domain.get_or_init(|| self.company.domain())
    }

    /// The hash a column's independent choices come from.
    fn hash(&self, salt: u64) -> u64 {
        splitmix(self.base ^ salt)
    }

    fn table(&self) -> &str {
        &self.generator.table.logical_name
    }

    fn value(&self, plan: &ColumnPlan<'_>) -> Cell {
        let column = plan.column;
        let name = column.logical_name.as_str();
        let hash = self.hash(plan.salt);
        match &column.kind {
            ColumnKind::PrimaryKey => {
                Cell::Guid(row_id(self.generator.spec.seed, self.table(), self.index))
            }
            ColumnKind::String { max_length } => {
                match self.text(name, hash, &column.display_name) {
                    Some(text) => Cell::Text(fit(text, *max_length)),
                    None => Cell::Null,
                }
            }
            ColumnKind::Memo { max_length } => Cell::Text(fit(self.memo(), *max_length)),
            ColumnKind::Integer => Cell::Integer(self.integer(name, hash)),
            ColumnKind::BigInt => Cell::Integer(self.big_integer(name, hash)),
            ColumnKind::Money => Cell::Number(self.money(name, hash)),
            ColumnKind::Decimal => Cell::Number(self.decimal(name, hash)),
            ColumnKind::Double => Cell::Number(self.double(name, hash)),
            ColumnKind::Boolean => Cell::Bool(boolean(name, hash)),
            ColumnKind::DateTime => Cell::DateTime(self.date_time(name, hash)),
            ColumnKind::Uniqueidentifier => self
                .unique_identifier(name, hash)
                .map_or(Cell::Null, Cell::Guid),
            ColumnKind::Owner => self
                .owner
                .map_or(Cell::Null, |owner| Cell::Guid(owner.owner_id)),
            ColumnKind::Lookup { .. } => self
                .lookup(name, hash, &plan.targets)
                .map_or(Cell::Null, Cell::Guid),
            ColumnKind::Picklist { options } => Cell::Integer(choice(name, hash, options).into()),
            ColumnKind::State { options } => Cell::Integer(
                match self.state {
                    Some((state, _)) => state,
                    None => first_value(options),
                }
                .into(),
            ),
            ColumnKind::Status { options } => Cell::Integer(
                match self.state {
                    Some((_, status)) => status,
                    None => first_value(options),
                }
                .into(),
            ),
        }
    }

    fn text(&self, name: &str, hash: u64, display_name: &str) -> Option<Text> {
        let person = &self.person;
        let text: Text = match (self.table(), name) {
            ("account", "name") | ("lead", "companyname") => self.company.name().into(),
            ("account", "accountnumber") => {
                format!("{}{:06}", initials(self.company.stem), self.index + 1).into()
            }
            ("opportunity", "name") => {
                let quantity = 5 + self.hash(SALT_QUANTITY) % 495;
                format!("{quantity} {}", pick(PRODUCTS, hash)).into()
            }
            ("lead", "subject") => concat(&["Interested in ", pick(PRODUCTS, hash)]).into(),
            ("incident", "title") => pick(CASE_TITLES, hash).into(),
            ("incident", "ticketnumber") => {
                format!("CAS-{:05}-{}", self.index + 1, code(hash, 6)).into()
            }
            ("team", "name") => concat(&[
                pick(REGIONS, self.hash(SALT_REGION)),
                " ",
                pick(TEAM_FUNCTIONS, hash),
            ])
            .into(),
            ("businessunit", "name") => concat(&[
                self.company.stem,
                " ",
                pick(REGIONS, self.hash(SALT_REGION)),
            ])
            .into(),
            ("role", "name") => self.role_name().into(),
            ("transactioncurrency", "currencyname") => self.currency().name.into(),
            ("transactioncurrency", "isocurrencycode") => self.currency_code().into(),
            ("transactioncurrency", "currencysymbol") => self.currency().symbol.into(),
            (table, "fullname") if person_table(table) => {
                concat(&[person.first, " ", person.last]).into()
            }
            (_, "firstname") => person.first.into(),
            (_, "lastname") => person.last.into(),
            (_, "emailaddress1") => self.email(self.domain()).into(),
            (_, "internalemailaddress" | "domainname") => {
                self.email(&self.generator.tenant_domain).into()
            }
            (_, "emailaddress") => {
                let mailbox = slug(pick(TEAM_FUNCTIONS, self.hash(SALT_NAME)));
                concat(&[&mailbox, "@", self.domain()]).into()
            }
            (_, "websiteurl") => concat(&["https://www.", self.domain()]).into(),
            (_, "telephone1" | "fax" | "mobilephone" | "address1_telephone1") => {
                self.city.phone(hash).into()
            }
            (_, "jobtitle") => pick(JOB_TITLES, hash).into(),
            (_, "divisionname") => pick(TEAM_FUNCTIONS, hash).into(),
            (_, "address1_line1") => format!(
                "{} {} {}",
                1 + hash % 9_999,
                pick(STREETS, hash >> 16),
                pick(STREET_KINDS, hash >> 32)
            )
            .into(),
            (_, "address1_city") => self.city.name.into(),
            (_, "address1_stateorprovince") if self.city.province.is_empty() => return None,
            (_, "address1_stateorprovince") => self.city.province.into(),
            (_, "address1_postalcode") => self.city.postal_code.into(),
            (_, "address1_country") => self.city.country.into(),
            (_, "description") => self.memo(),
            _ => format!("{display_name} {}", self.index + 1).into(),
        };
        Some(text)
    }

    fn memo(&self) -> Text {
        let hash = self.hash(SALT_DESCRIPTION);
        let product = pick(PRODUCTS, hash >> 8);
        let text = match (self.table(), hash % 6) {
            ("team", _) => concat(&[
                "Members of the ",
                pick(REGIONS, self.hash(SALT_REGION)),
                " ",
                &pick(TEAM_FUNCTIONS, self.hash(SALT_NAME)).to_lowercase(),
                " team.",
            ]),
            ("businessunit", _) => {
                concat(&["Offices in ", self.city.name, ", ", self.city.country, "."])
            }
            ("role", _) => return Text::Borrowed("Security role maintained by the CRM team."),
            (_, 0) => concat(&[
                "Met ",
                self.person.first,
                " at the ",
                self.city.name,
                " trade fair.",
            ]),
            (_, 1) => concat(&[
                "Long-standing customer; renewal of ",
                product,
                " due next quarter.",
            ]),
            (_, 2) => concat(&[
                "Referred by ",
                &self.company.name(),
                ".\nPrefers email; call only after 2 pm local time.",
            ]),
            (_, 3) => concat(&["Evaluating ", product, ". Budget approved by finance."]),
            (_, 4) => return Text::Borrowed("Imported from the legacy CRM."),
            _ => concat(&["Key contact for the ", self.city.name, " office."]),
        };
        text.into()
    }

    fn email(&self, domain: &str) -> String {
        let person = &self.person;
        let mut email =
            String::with_capacity(person.first.len() + person.last.len() + domain.len() + 8);
        push_slug(&mut email, person.first);
        email.push('.');
        push_slug(&mut email, person.last);
        if person.number > 0 {
            let _ = write!(email, "{}", person.number);
        }
        email.push('@');
        email.push_str(domain);
        email
    }

    fn role_name(&self) -> String {
        let templates = &self.generator.spec.role_templates;
        match usize::try_from(self.index)
            .ok()
            .and_then(|index| templates.get(index))
        {
            Some((name, _)) => name.clone(),
            None => {
                let custom = self.index - templates.len() as u64;
                let name = pick(CUSTOM_ROLES, custom);
                match custom / CUSTOM_ROLES.len() as u64 {
                    0 => name.to_string(),
                    round => format!("{name} {}", round + 1),
                }
            }
        }
    }

    fn currency(&self) -> &'static Currency {
        &CURRENCIES[(self.index % CURRENCIES.len() as u64) as usize]
    }

    fn currency_code(&self) -> String {
        match self.index {
            index if index < CURRENCIES.len() as u64 => self.currency().code.to_string(),
            index => format!("X{:02}", index % 100),
        }
    }

    fn integer(&self, name: &str, hash: u64) -> i64 {
        match name {
            "numberofemployees" => employees(hash) as i64,
            "closeprobability" => match self.state {
                Some((1, _)) => 100,
                Some((2, _)) => 0,
                _ => 10 * (1 + hash % 9) as i64,
            },
            "currencyprecision" => i64::from(self.currency().precision),
            _ => (hash % 1_000) as i64,
        }
    }

    fn big_integer(&self, name: &str, hash: u64) -> i64 {
        match name {
            // Increases with the index, like the rowversion Dataverse exposes.
            "versionnumber" => 1_000_000 + (self.index as i64) * 16 + (hash % 16) as i64,
            _ => (hash >> 16) as i64,
        }
    }

    fn money(&self, name: &str, hash: u64) -> f64 {
        match name {
            "revenue" => {
                let employees = employees(self.hash(SALT_EMPLOYEES));
                let per_employee = 40_000 + hash % 260_000;
                round_to(employees * per_employee, 1_000) as f64
            }
            "estimatedvalue" => round_to(1_000 + hash % 2_000_000, 100) as f64,
            _ => (hash % 10_000_000) as f64 / 100.0,
        }
    }

    fn decimal(&self, name: &str, hash: u64) -> f64 {
        match (self.table(), name) {
            ("transactioncurrency", "exchangerate") => self.currency().rate,
            (_, "exchangerate") => 1.0,
            _ => (hash % 100_000_000) as f64 / 10_000.0,
        }
    }

    fn double(&self, name: &str, hash: u64) -> f64 {
        // Within about 5 km of the city centre, 5 decimals like the column's precision.
        let jitter = (hash % 10_001) as f64 / 100_000.0 - 0.05;
        let value = match name {
            "address1_latitude" => self.city.latitude + jitter,
            "address1_longitude" => self.city.longitude + jitter,
            _ => (hash % 1_000_000) as f64 / 100.0,
        };
        (value * 100_000.0).round() / 100_000.0
    }

    fn date_time(&self, name: &str, hash: u64) -> i64 {
        match name {
            "createdon" => self.created,
            "modifiedon" => self.modified,
            "birthdate" => {
                // 1950-01-01 to 2004-12-31, at midnight (a date-only column).
                const FROM: i64 = -7_305 * DAY;
                FROM + ((hash % 20_089) as i64) * DAY
            }
            "estimatedclosedate" => midnight(self.created + (14 + (hash % 167) as i64) * DAY),
            _ => self.created + (hash % ((self.modified - self.created) as u64 + 1)) as i64,
        }
    }

    fn unique_identifier(&self, name: &str, hash: u64) -> Option<Uuid> {
        match (self.table(), name) {
            // Generated users are people; application users come from the world.
            ("systemuser", "applicationid") => None,
            // Only Microsoft Entra group teams have a group object id.
            ("team", "azureactivedirectoryobjectid") => {
                let team_type = preferred_choice("teamtype", self.hash(SALT_TEAM_TYPE));
                matches!(team_type, Some(2 | 3)).then(|| random_uuid(hash))
            }
            _ => Some(random_uuid(hash)),
        }
    }

    fn lookup(&self, name: &str, hash: u64, targets: &[TargetPlan<'_>]) -> Option<Uuid> {
        if name == "owningbusinessunit" {
            return self.owner.map(|owner| owner.business_unit_id);
        }
        if name == "roletemplateid" {
            return usize::try_from(self.index)
                .ok()
                .and_then(|index| self.generator.spec.role_templates.get(index))
                .and_then(|(_, template)| *template);
        }
        let present = match name {
            "transactioncurrencyid" | "businessunitid" | "parentbusinessunitid" => 100,
            "customerid" | "administratorid" => 100,
            "parentcustomerid" => 85,
            "primarycontactid" => 75,
            "parentaccountid" if self.table() == "account" => 20,
            "parentaccountid" | "parentsystemuserid" => 60,
            "parentcontactid" => 50,
            "originatingleadid" => 30,
            _ => 80,
        };
        if hash % 100 >= present {
            return None;
        }
        // Customer lookups favour their first target (accounts over contacts).
        let index = self.index;
        let mut available = targets.iter().filter(|target| target.candidates(index) > 0);
        let first = available.next()?;
        let others = available.clone().count() as u64;
        let target = if others == 0 || (hash >> 8) % 100 < 70 {
            first
        } else {
            available.nth(((hash >> 16) % others) as usize)?
        };
        // The base currency is the usual one.
        let spread = if name == "transactioncurrencyid" && (hash >> 24) % 100 < 90 {
            0
        } else {
            hash >> 32
        };
        let choice = spread % target.candidates(index);
        match usize::try_from(choice)
            .ok()
            .and_then(|choice| target.given.get(choice))
        {
            Some(id) => Some(*id),
            None => Some(row_id(
                self.generator.spec.seed,
                target.table,
                choice - target.given.len() as u64,
            )),
        }
    }
}

fn boolean(name: &str, hash: u64) -> bool {
    let percent = hash % 100;
    match name {
        "isdisabled" | "creditonhold" => percent < 5,
        "donotemail" => percent < 10,
        "isdefault" => false,
        _ => percent < 50,
    }
}

fn choice(name: &str, hash: u64, options: &[OptionValue]) -> i32 {
    match preferred_choice(name, hash) {
        Some(value) if options.iter().any(|option| option.value == value) => value,
        _ => options
            .get((hash % options.len().max(1) as u64) as usize)
            .map_or(0, |option| option.value),
    }
}

/// A realistic spread for picklists where a uniform one would not be.
fn preferred_choice(name: &str, hash: u64) -> Option<i32> {
    let percent = hash % 100;
    match name {
        // Most users read and write; a few are read-only or administrative.
        "accessmode" => Some(match percent {
            0..=89 => 0,
            90..=94 => 2,
            _ => 1,
        }),
        "teamtype" => Some(match percent {
            0..=59 => 0,
            60..=79 => 1,
            80..=94 => 2,
            _ => 3,
        }),
        "currencytype" => Some(0),
        _ => None,
    }
}

fn person_table(table: &str) -> bool {
    matches!(table, "contact" | "lead" | "systemuser")
}

/// The name of the `index`-th ordinary user of an environment (`Avery Chen`): distinct for
/// every index below the number of first names, with a number after once they run out.
pub(crate) fn user_name(index: usize) -> String {
    let first = FIRST_NAMES[index % FIRST_NAMES.len()];
    let last = LAST_NAMES[(index * 7 + 3) % LAST_NAMES.len()];
    match index / FIRST_NAMES.len() {
        0 => format!("{first} {last}"),
        round => format!("{first} {last} {}", round + 1),
    }
}

/// Names are a bijection of the index within blocks of all first × last combinations, so rows
/// of a table never share name and number.
fn person(index: u64, key: u64) -> Person {
    let block = (FIRST_NAMES.len() * LAST_NAMES.len()) as u64;
    let within = (index % block * 1_009 + key % block) % block;
    Person {
        first: FIRST_NAMES[(within % FIRST_NAMES.len() as u64) as usize],
        last: LAST_NAMES[(within / FIRST_NAMES.len() as u64) as usize],
        number: index / block,
    }
}

fn company(index: u64, key: u64) -> Company {
    let mixed = splitmix(key ^ index);
    let stem = pick(COMPANY_STEMS, mixed);
    let sector = (mixed >> 20) % (SECTORS.len() as u64 + 4);
    Company {
        stem,
        sector: SECTORS.get(sector as usize).copied(),
        legal: pick(LEGAL_FORMS, mixed >> 40),
    }
}

impl Company {
    fn name(&self) -> String {
        match self.sector {
            Some(sector) => format!("{} {sector} {}", self.stem, self.legal),
            None => format!("{} {}", self.stem, self.legal),
        }
    }

    fn domain(&self) -> String {
        let mut domain = slug(self.stem);
        if let Some(sector) = self.sector {
            domain.push_str(&slug(sector));
        }
        domain.push_str(".com");
        domain
    }
}

/// `createdon` rises with the index across the window; `modifiedon` follows it.
fn timeline(spec: &GeneratorSpec, rows: u64, index: u64, base: u64) -> (i64, i64) {
    let span = spec.history_seconds.max(1) as u128;
    let rows = u128::from(rows.max(index + 1));
    let slot = (span / rows).max(1);
    let offset = (u128::from(index) * span / rows + u128::from(splitmix(base ^ 0xC4EA7E)) % slot)
        .min(span - 1);
    let created = spec.newest - spec.history_seconds + offset as i64;
    let since = (spec.newest - created).max(0) as u64;
    let modified = match splitmix(base ^ 0x30D1F1ED) {
        // A third of rows were never touched again.
        hash if hash % 3 == 0 => created,
        hash => created + ((hash >> 8) % (since + 1)) as i64,
    };
    (created, modified)
}

/// `statecode` and a `statuscode` of that state, by the table's weights.
fn state_and_status(model: StateModel, hash: u64) -> Option<(i32, i32)> {
    let total: u64 = model.iter().map(|(_, weight, _)| u64::from(*weight)).sum();
    let mut roll = hash % total.max(1);
    for (state, weight, statuses) in model {
        if roll < u64::from(*weight) {
            let status = statuses[((hash >> 32) % statuses.len() as u64) as usize];
            return Some((*state, status));
        }
        roll -= u64::from(*weight);
    }
    None
}

/// Per table: state, weight in percent, the status reasons of that state (entity reference
/// pages, `State` of each StatusCode option). Fixture options cannot say which status belongs to
/// which state yet, so the generator keeps this; tables without a model get their first options.
type StateModel = &'static [(i32, u32, &'static [i32])];
const STATE_MODELS: &[(&str, StateModel)] = &[
    ("account", &[(0, 90, &[1]), (1, 10, &[2])]),
    ("contact", &[(0, 90, &[1]), (1, 10, &[2])]),
    ("transactioncurrency", &[(0, 95, &[1]), (1, 5, &[2])]),
    (
        "lead",
        &[(0, 50, &[1, 2]), (1, 25, &[3]), (2, 25, &[4, 5, 6, 7])],
    ),
    (
        "opportunity",
        &[(0, 60, &[1, 2]), (1, 25, &[3]), (2, 15, &[4, 5])],
    ),
    (
        "incident",
        &[
            (0, 40, &[1, 2, 3, 4]),
            (1, 50, &[5, 1000]),
            (2, 10, &[6, 2000]),
        ],
    ),
];

/// The state models, for tests that hold them against the fixtures.
#[cfg(test)]
pub(crate) fn state_models() -> &'static [(&'static str, StateModel)] {
    STATE_MODELS
}

fn first_value(options: &[OptionValue]) -> i32 {
    options.first().map_or(0, |option| option.value)
}

fn employees(hash: u64) -> u64 {
    const BANDS: [(u64, u64); 6] = [
        (1, 10),
        (10, 50),
        (50, 250),
        (250, 1_000),
        (1_000, 10_000),
        (10_000, 100_000),
    ];
    const WEIGHTS: [u64; 6] = [20, 30, 25, 15, 8, 2];
    let mut roll = hash % 100;
    for ((low, high), weight) in BANDS.into_iter().zip(WEIGHTS) {
        if roll < weight {
            return low + (hash >> 8) % (high - low);
        }
        roll -= weight;
    }
    1
}

fn round_to(value: u64, step: u64) -> u64 {
    (value / step).max(1) * step
}

/// Joins `parts` with one allocation.
fn concat(parts: &[&str]) -> String {
    let mut text = String::with_capacity(parts.iter().map(|part| part.len()).sum());
    for part in parts {
        text.push_str(part);
    }
    text
}

fn random_uuid(hash: u64) -> Uuid {
    let high = splitmix(hash ^ 0xA5A5);
    uuid::Builder::from_random_bytes(((u128::from(high) << 64) | u128::from(hash)).to_le_bytes())
        .into_uuid()
}

fn pick<T: Copy>(items: &[T], hash: u64) -> T {
    items[(hash % items.len() as u64) as usize]
}

/// Lower-case ASCII letters and digits only: `O'Brien` → `obrien`.
fn slug(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    push_slug(&mut slug, text);
    slug
}

fn push_slug(out: &mut String, text: &str) {
    out.extend(
        text.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|character| character.to_ascii_lowercase()),
    );
}

fn initials(text: &str) -> String {
    let letters: String = text
        .chars()
        .filter(char::is_ascii_alphabetic)
        .take(2)
        .collect();
    letters.to_ascii_uppercase()
}

/// `length` upper-case letters and digits.
fn code(mut hash: u64, length: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
    (0..length)
        .map(|_| {
            let character = ALPHABET[(hash % ALPHABET.len() as u64) as usize] as char;
            hash /= ALPHABET.len() as u64;
            character
        })
        .collect()
}

/// Cuts `text` to at most `max_length` characters.
fn fit(text: Text, max_length: u32) -> Text {
    // A character takes at least one byte: short text needs no counting.
    if text.len() <= max_length as usize {
        return text;
    }
    let Some((cut, _)) = text.char_indices().nth(max_length as usize) else {
        return text;
    };
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(&text[..cut]),
        Cow::Owned(mut text) => {
            text.truncate(cut);
            Cow::Owned(text)
        }
    }
}

fn midnight(seconds: i64) -> i64 {
    seconds - seconds.rem_euclid(DAY)
}

/// `2024-05-01T10:00:00Z` (years 0 to 9999).
pub(crate) fn format_date_time(seconds: i64) -> String {
    String::from_utf8_lossy(&date_time_bytes(seconds)).into_owned()
}

fn date_time_bytes(seconds: i64) -> [u8; 20] {
    let days = seconds.div_euclid(DAY);
    let time = seconds.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    let mut text = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, mut value: i64| {
        for position in (at..at + width).rev() {
            text[position] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year.clamp(0, 9_999));
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, time / 3_600);
    put(14, 2, time % 3_600 / 60);
    put(17, 2, time % 60);
    text
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
