//! `$filter`: parse once ([`Filter::parse`]: [`syntax`] → typed binding against the table →
//! an evaluable tree), evaluate per row ([`Filter::matches`]) without allocating.
//!
//! Binding follows Microsoft.OData's rules and messages (unknown property, incompatible operand
//! types, unknown function) in its left-to-right order. What OData accepts but this fake cannot
//! evaluate (traversal, lambdas, arithmetic, most functions) is kept as a deferred error and
//! answered with 501 once the whole expression type-checks, so a type error still wins, the
//! way the real service reports the OData error before it tries to run the query.
//!
//! Evaluation uses SQL three-valued logic: a comparison with a null value is unknown, `not`
//! keeps unknown, and only rows whose filter is true are returned (filter-rows: "Records aren't
//! returned if the expression evaluates to false or null").

mod lexer;
mod like;
mod syntax;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use fake_core::echo;
use serde_json::Value;
use uuid::Uuid;

use self::lexer::TokenKind;
use self::like::{Anchor, LikePattern};
use self::syntax::{Arguments, ArithmeticOp, CompareOp, Expr, Literal};
use super::depth::Depth;
use super::scalar::{self, ColumnType, Scalar};
use super::{QueryError, QueryOptions, Row};
use crate::schema::{ColumnKind, TableDefinition};

/// A bound, evaluable `$filter`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Filter {
    root: Node,
}

impl Filter {
    /// Parses and binds `text` (already URL-decoded) against `table`; `aliases` are the
    /// query's `@name=value` parameters.
    pub(crate) fn parse(
        text: &str,
        table: &TableDefinition,
        aliases: &BTreeMap<String, String>,
        options: &QueryOptions,
    ) -> Result<Filter, QueryError> {
        let expression = syntax::parse_filter(text)
            .map_err(|message| QueryError::bad_request(options, message))?;
        let binder = Binder {
            table,
            aliases,
            options,
            depth: Cell::new(Depth::default()),
        };
        let bound = binder.bind(&expression)?;
        if !bound.ty().is_boolean_like() || matches!(bound, Bound::Collection { .. }) {
            return Err(QueryError::bad_request(
                options,
                "The $filter expression must evaluate to a single boolean value.",
            ));
        }
        Ok(Filter {
            root: binder.condition(bound)?.0,
        })
    }

    /// Whether `row` passes the filter (true, not false or unknown).
    pub(crate) fn matches(&self, row: &Row) -> bool {
        self.root.evaluate(row) == Some(true)
    }
}

/// Parses `$orderby` with the `$filter` grammar: each item is the property name when it is a
/// plain property (`None` for any other expression) and whether it is `desc`.
pub(super) fn parse_order_by(text: &str) -> Result<Vec<(Option<String>, bool)>, String> {
    let items = syntax::parse_order_by(text)?;
    Ok(items
        .into_iter()
        .map(|(expression, descending)| match expression {
            Expr::Property { name, parent: None } => (Some(name), descending),
            _ => (None, descending),
        })
        .collect())
}

/// A column the filter reads.
#[derive(Clone, Debug, PartialEq)]
struct Column {
    /// The Web API property name (`_primarycontactid_value`).
    name: String,
    column_type: ColumnType,
}

/// A comparison applied to an ordering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Comparison {
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Comparison {
    fn test(self, ordering: Ordering) -> bool {
        match self {
            Comparison::Equal => ordering.is_eq(),
            Comparison::NotEqual => ordering.is_ne(),
            Comparison::Greater => ordering.is_gt(),
            Comparison::GreaterOrEqual => ordering.is_ge(),
            Comparison::Less => ordering.is_lt(),
            Comparison::LessOrEqual => ordering.is_le(),
        }
    }

    /// The same test with the operands swapped (`5 lt x` is `x gt 5`).
    fn flipped(self) -> Comparison {
        match self {
            Comparison::Greater => Comparison::Less,
            Comparison::GreaterOrEqual => Comparison::LessOrEqual,
            Comparison::Less => Comparison::Greater,
            Comparison::LessOrEqual => Comparison::GreaterOrEqual,
            other => other,
        }
    }
}

/// The evaluable tree.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// `eq null` (or `ne null` when `negated`).
    Null {
        column: Column,
        negated: bool,
    },
    Compare {
        column: Column,
        comparison: Comparison,
        value: Scalar,
    },
    /// Column-to-column comparison (`firstname eq lastname`).
    Columns {
        left: Column,
        comparison: Comparison,
        right: Column,
    },
    Like {
        column: Column,
        pattern: LikePattern,
    },
    In {
        column: Column,
        values: Vec<Scalar>,
    },
    Between {
        column: Column,
        low: Scalar,
        high: Scalar,
    },
}

impl Node {
    /// Three-valued: `None` is SQL's unknown.
    fn evaluate(&self, row: &Row) -> Option<bool> {
        match self {
            Node::And(nodes) => {
                let mut result = Some(true);
                for node in nodes {
                    match node.evaluate(row) {
                        Some(false) => return Some(false),
                        None => result = None,
                        Some(true) => {}
                    }
                }
                result
            }
            Node::Or(nodes) => {
                let mut result = Some(false);
                for node in nodes {
                    match node.evaluate(row) {
                        Some(true) => return Some(true),
                        None => result = None,
                        Some(false) => {}
                    }
                }
                result
            }
            Node::Not(node) => node.evaluate(row).map(|value| !value),
            Node::Null { column, negated } => {
                let is_null = matches!(row.get(column.name.as_str()), None | Some(Value::Null));
                Some(is_null != *negated)
            }
            Node::Compare {
                column,
                comparison,
                value,
            } => {
                let left = column.read(row)?;
                scalar::compare(left, value.as_view()).map(|ordering| comparison.test(ordering))
            }
            Node::Columns {
                left,
                comparison,
                right,
            } => {
                let ordering = scalar::compare(left.read(row)?, right.read(row)?)?;
                Some(comparison.test(ordering))
            }
            Node::Like { column, pattern } => match column.read(row)? {
                scalar::View::Text(text) => Some(pattern.matches(text)),
                _ => None,
            },
            Node::In { column, values } => {
                let left = column.read(row)?;
                Some(
                    values.iter().any(|value| {
                        scalar::compare(left, value.as_view()) == Some(Ordering::Equal)
                    }),
                )
            }
            Node::Between { column, low, high } => {
                let left = column.read(row)?;
                let above = scalar::compare(left, low.as_view())?.is_ge();
                let below = scalar::compare(left, high.as_view())?.is_le();
                Some(above && below)
            }
        }
    }
}

impl Column {
    fn read<'r>(&self, row: &'r Row) -> Option<scalar::View<'r>> {
        scalar::view(row.get(self.name.as_str()), self.column_type)
    }
}

/// The EDM type of a bound operand, for Microsoft.OData's type checks.
#[derive(Clone, Debug, PartialEq)]
enum Ty {
    /// The `null` literal: compatible with everything.
    Null,
    /// Something the fake does not type (it will not be evaluated anyway).
    Unknown,
    Edm(&'static str),
    /// A single-valued navigation property (`Microsoft.Dynamics.CRM.contact`).
    Entity(String),
    /// A collection-valued navigation property.
    Collection,
}

impl Ty {
    fn name(&self) -> &str {
        match self {
            Ty::Null | Ty::Unknown => "",
            Ty::Edm(name) => name,
            Ty::Entity(name) => name,
            Ty::Collection => "Collection",
        }
    }

    fn is_boolean_like(&self) -> bool {
        matches!(self, Ty::Null | Ty::Unknown | Ty::Edm("Edm.Boolean"))
    }

    fn is_numeric_like(&self) -> bool {
        match self {
            Ty::Null | Ty::Unknown => true,
            Ty::Edm(name) => is_numeric(name),
            _ => false,
        }
    }
}

fn is_numeric(edm: &str) -> bool {
    matches!(
        edm,
        "Edm.Int32" | "Edm.Int64" | "Edm.Single" | "Edm.Double" | "Edm.Decimal"
    )
}

/// A column as the binder sees it.
#[derive(Clone, Debug, PartialEq)]
struct ColumnRef {
    name: String,
    logical_name: String,
    edm: &'static str,
    column_type: ColumnType,
}

impl ColumnRef {
    fn column(&self) -> Column {
        Column {
            name: self.name.clone(),
            column_type: self.column_type,
        }
    }
}

/// A bound operand or condition.
#[derive(Clone, Debug, PartialEq)]
enum Bound {
    /// An evaluable condition; `named` when it contains a Dataverse query function.
    Condition {
        node: Node,
        named: bool,
    },
    Column(ColumnRef),
    Literal(Literal),
    Navigation {
        name: String,
        type_name: String,
    },
    Collection {
        name: String,
    },
    /// Type-correct, but answered with `error` if it has to be evaluated.
    Deferred {
        ty: Ty,
        error: QueryError,
    },
}

impl Bound {
    fn ty(&self) -> Ty {
        match self {
            Bound::Condition { .. } => Ty::Edm("Edm.Boolean"),
            Bound::Column(column) => Ty::Edm(column.edm),
            Bound::Literal(literal) => literal_type(literal),
            Bound::Navigation { type_name, .. } => Ty::Entity(type_name.clone()),
            Bound::Collection { .. } => Ty::Collection,
            Bound::Deferred { ty, .. } => ty.clone(),
        }
    }
}

fn literal_type(literal: &Literal) -> Ty {
    Ty::Edm(match literal.kind {
        TokenKind::Null => return Ty::Null,
        TokenKind::String => "Edm.String",
        TokenKind::Integer => "Edm.Int32",
        TokenKind::Int64 => "Edm.Int64",
        TokenKind::Single => "Edm.Single",
        TokenKind::Double => "Edm.Double",
        TokenKind::Decimal => "Edm.Decimal",
        TokenKind::Boolean => "Edm.Boolean",
        TokenKind::Guid => "Edm.Guid",
        TokenKind::Date => "Edm.Date",
        TokenKind::DateTimeOffset => "Edm.DateTimeOffset",
        TokenKind::TimeOfDay => "Edm.TimeOfDay",
        TokenKind::Duration => "Edm.Duration",
        TokenKind::Binary => "Edm.Binary",
        _ => return Ty::Unknown,
    })
}

/// The OData built-in functions other than the three string functions: valid OData, not
/// evaluated by this fake (Dataverse documents only `contains`, `startswith`, `endswith`).
const OTHER_BUILT_IN_FUNCTIONS: &[&str] = &[
    "concat",
    "indexof",
    "length",
    "substring",
    "tolower",
    "toupper",
    "trim",
    "matchesPattern",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "fractionalseconds",
    "totalseconds",
    "date",
    "time",
    "totaloffsetminutes",
    "mindatetime",
    "maxdatetime",
    "now",
    "round",
    "floor",
    "ceiling",
    "cast",
    "isof",
    "hassubset",
    "hassubsequence",
    "geo.distance",
    "geo.length",
    "geo.intersects",
];

const QUERY_FUNCTION_PREFIX: &str = "Microsoft.Dynamics.CRM.";

struct Binder<'a> {
    table: &'a TableDefinition,
    aliases: &'a BTreeMap<String, String>,
    options: &'a QueryOptions,
    /// Microsoft.OData's binder counts its own recursion against the same limit as the parser.
    depth: Cell<Depth>,
}

impl Binder<'_> {
    fn bad_request(&self, message: impl Into<String>) -> QueryError {
        QueryError::bad_request(self.options, message)
    }

    /// A 501 for a `$filter` feature this fake does not evaluate.
    fn unsupported(&self, feature: impl std::fmt::Display) -> QueryError {
        QueryError::not_implemented(
            self.options,
            format!(
                "The $filter {feature} is not supported by this fake Dataverse (d365-harness)."
            ),
        )
    }

    fn deferred(&self, ty: Ty, feature: impl std::fmt::Display) -> Bound {
        Bound::Deferred {
            ty,
            error: self.unsupported(feature),
        }
    }

    /// Binds one node, spending a step of the depth budget for the recursion.
    fn bind(&self, expression: &Expr) -> Result<Bound, QueryError> {
        let mut depth = self.depth.get();
        depth
            .enter(1)
            .map_err(|message| self.bad_request(message))?;
        self.depth.set(depth);
        let bound = self.bind_node(expression);
        depth.leave(1);
        self.depth.set(depth);
        bound
    }

    /// Dispatches on the node. The recursion passes through this frame, so it stays a thin
    /// dispatcher: each arm's locals live in the frame of a method of its own (debug builds
    /// give every local of a function its own stack slot).
    fn bind_node(&self, expression: &Expr) -> Result<Bound, QueryError> {
        match expression {
            Expr::Or(operands) => self.logical(operands, "Or"),
            Expr::And(operands) => self.logical(operands, "And"),
            Expr::Compare(first, rest) => self.comparisons(first, rest),
            Expr::Arithmetic(first, rest) => self.arithmetics(first, rest),
            Expr::Not(_) | Expr::Negate(_) => self.unary_chain(expression),
            Expr::Literal(literal) => Ok(self.literal(literal)),
            Expr::Property { name, parent: None } => self.property(name),
            Expr::Property {
                parent: Some(_), ..
            } => self.path(expression),
            Expr::RangeVariable(name) => {
                Ok(self.deferred(Ty::Unknown, format_args!("range variable '{}'", echo(name))))
            }
            Expr::Call {
                name,
                arguments,
                parent,
            } => self.call(name, arguments, parent.as_deref()),
            Expr::Lambda { any, parent } => self.lambda(*any, parent),
            Expr::Dotted(name) => Ok(self.deferred(
                Ty::Unknown,
                format_args!(
                    "qualified name '{}' (type casts and enumeration literals)",
                    echo(name)
                ),
            )),
            Expr::Alias(name) => self.alias(name),
            Expr::Star => Ok(self.deferred(Ty::Unknown, "'*' operand")),
        }
    }

    fn comparisons(&self, first: &Expr, rest: &[(CompareOp, Expr)]) -> Result<Bound, QueryError> {
        let mut left = self.bind(first)?;
        for (op, operand) in rest {
            let right = self.bind(operand)?;
            left = self.compare(left, *op, right)?;
        }
        Ok(left)
    }

    fn arithmetics(
        &self,
        first: &Expr,
        rest: &[(ArithmeticOp, Expr)],
    ) -> Result<Bound, QueryError> {
        let mut left = self.bind(first)?;
        for (op, operand) in rest {
            let right = self.bind(operand)?;
            left = self.arithmetic(left, *op, right)?;
        }
        Ok(left)
    }

    /// `not not … x` and `- - … x`: the parser spends one step per operator, so a chain may be
    /// hundreds long; the operand is bound once and the operators applied from the inside out
    /// in a loop, not one recursion each.
    fn unary_chain(&self, expression: &Expr) -> Result<Bound, QueryError> {
        let mut negations = Vec::new();
        let mut operand = expression;
        loop {
            let (arithmetic, inner) = match operand {
                Expr::Not(inner) => (false, inner),
                Expr::Negate(inner) => (true, inner),
                _ => break,
            };
            negations.push(arithmetic);
            operand = inner;
        }
        let mut bound = self.bind(operand)?;
        for arithmetic in negations.into_iter().rev() {
            bound = if arithmetic {
                self.negate(bound)?
            } else {
                self.not(bound)?
            };
        }
        Ok(bound)
    }

    fn negate(&self, operand: Bound) -> Result<Bound, QueryError> {
        self.single_unary(&operand, "Negate")?;
        let ty = operand.ty();
        if !ty.is_numeric_like() {
            return Err(self.incompatible_unary(&ty, "Negate"));
        }
        Ok(self.deferred(ty, "negation operator '-'"))
    }

    fn literal(&self, literal: &Literal) -> Bound {
        match literal.kind {
            TokenKind::Quoted | TokenKind::Bracketed | TokenKind::Braced => {
                self.deferred(Ty::Unknown, format_args!("literal {}", echo(&literal.text)))
            }
            _ => Bound::Literal(literal.clone()),
        }
    }

    /// `a/b/c`: the first segment must exist; the rest is a 501 (traversal or property path).
    fn path(&self, expression: &Expr) -> Result<Bound, QueryError> {
        let root_bound = self.bind(path_root(expression))?;
        let path = path_text(expression);
        let path = echo(&path);
        Ok(match root_bound {
            Bound::Navigation { .. } | Bound::Collection { .. } => {
                self.deferred(Ty::Unknown, format_args!("lookup traversal '{path}'"))
            }
            _ => self.deferred(Ty::Unknown, format_args!("property path '{path}'")),
        })
    }

    fn lambda(&self, any: bool, parent: &Expr) -> Result<Bound, QueryError> {
        let parent_bound = self.bind(parent)?;
        let operator = if any { "any" } else { "all" };
        match parent_bound {
            Bound::Collection { name } => Ok(self.deferred(
                Ty::Edm("Edm.Boolean"),
                format_args!("lambda operator '{operator}' on '{name}'"),
            )),
            Bound::Deferred { .. } => Ok(self.deferred(
                Ty::Edm("Edm.Boolean"),
                format_args!("lambda operator '{operator}'"),
            )),
            _ => Err(self.bad_request("Any/All may only be used following a collection.")),
        }
    }

    /// `@p1` in `$filter`: the value given as `&@p1=…` (null when absent, as OData says).
    fn alias(&self, name: &str) -> Result<Bound, QueryError> {
        let Some(text) = self.aliases.get(name) else {
            return Ok(Bound::Literal(Literal {
                kind: TokenKind::Null,
                text: "null".to_owned(),
            }));
        };
        match syntax::parse_filter_at(text, self.depth.get()) {
            Ok(Expr::Literal(literal)) => self.bind(&Expr::Literal(literal)),
            Ok(_) => Ok(self.deferred(
                Ty::Unknown,
                format_args!(
                    "parameter alias '{}' whose value is not a literal",
                    echo(name)
                ),
            )),
            Err(message) => Err(self.bad_request(message)),
        }
    }

    fn property(&self, name: &str) -> Result<Bound, QueryError> {
        let table = self.table;
        if let Some(column) = column_by_web_api_name(table, name) {
            return Ok(Bound::Column(ColumnRef {
                name: name.to_owned(),
                logical_name: column.logical_name.clone(),
                edm: column.edm_type(),
                column_type: ColumnType::of(column),
            }));
        }
        if let Some(type_name) = navigation_type(table, name) {
            return Ok(Bound::Navigation {
                name: name.to_owned(),
                type_name,
            });
        }
        if table
            .collection_navigation
            .iter()
            .any(|navigation| navigation.name == name)
        {
            return Ok(Bound::Collection {
                name: name.to_owned(),
            });
        }
        Err(QueryError::property_not_found(self.options, name, table))
    }

    fn single_binary(&self, bound: &Bound, kind: &str) -> Result<(), QueryError> {
        if matches!(bound, Bound::Collection { .. }) {
            return Err(self.bad_request(format!(
                "The operand for a binary operator '{kind}' is not a single value. Binary operators require both operands to be single values."
            )));
        }
        Ok(())
    }

    fn single_unary(&self, bound: &Bound, kind: &str) -> Result<(), QueryError> {
        if matches!(bound, Bound::Collection { .. }) {
            return Err(self.bad_request(format!(
                "The operand for a unary operator '{kind}' is not a single value. Unary operators require the operand to be a single value."
            )));
        }
        Ok(())
    }

    fn incompatible(&self, left: &Ty, right: &Ty, kind: &str) -> QueryError {
        self.bad_request(format!(
            "A binary operator with incompatible types was detected. Found operand types '{}' and '{}' for operator kind '{kind}'.",
            left.name(),
            right.name()
        ))
    }

    fn incompatible_unary(&self, ty: &Ty, kind: &str) -> QueryError {
        self.bad_request(format!(
            "A unary operator with an incompatible type was detected. Found operand type '{}' for operator kind '{kind}'.",
            ty.name()
        ))
    }

    fn logical(&self, operands: &[Expr], kind: &str) -> Result<Bound, QueryError> {
        let mut operands = operands.iter();
        let Some(first) = operands.next() else {
            return Ok(self.deferred(Ty::Unknown, "empty logical expression"));
        };
        let mut left = self.bind(first)?;
        for operand in operands {
            let right = self.bind(operand)?;
            self.single_binary(&left, kind)?;
            self.single_binary(&right, kind)?;
            let (left_ty, right_ty) = (left.ty(), right.ty());
            if !left_ty.is_boolean_like() || !right_ty.is_boolean_like() {
                return Err(self.incompatible(&left_ty, &right_ty, kind));
            }
            left = match (left, right) {
                (Bound::Deferred { error, ty }, _) | (_, Bound::Deferred { error, ty }) => {
                    Bound::Deferred { error, ty }
                }
                (left, right) => match (self.condition(left), self.condition(right)) {
                    (Ok((left, left_named)), Ok((right, right_named))) => Bound::Condition {
                        node: join(kind, left, right),
                        named: left_named || right_named,
                    },
                    (Err(error), _) | (_, Err(error)) => Bound::Deferred {
                        ty: Ty::Edm("Edm.Boolean"),
                        error,
                    },
                },
            };
        }
        Ok(left)
    }

    /// The evaluable node of a boolean-typed operand, or the error that says why not.
    fn condition(&self, bound: Bound) -> Result<(Node, bool), QueryError> {
        match bound {
            Bound::Condition { node, named } => Ok((node, named)),
            Bound::Deferred { error, .. } => Err(error),
            Bound::Column(column) => Err(self.unsupported(format_args!(
                "Boolean column '{}' used as a condition without a comparison (write '{} eq true')",
                column.name, column.name
            ))),
            Bound::Literal(literal) => Err(self.unsupported(format_args!(
                "literal '{}' used as a condition",
                echo(&literal.text)
            ))),
            Bound::Navigation { name, .. } | Bound::Collection { name } => Err(self.unsupported(
                format_args!("navigation property '{name}' used as a condition"),
            )),
        }
    }

    fn not(&self, operand: Bound) -> Result<Bound, QueryError> {
        self.single_unary(&operand, "Not")?;
        let ty = operand.ty();
        if !ty.is_boolean_like() {
            return Err(self.incompatible_unary(&ty, "Not"));
        }
        Ok(match self.condition(operand) {
            Ok((_, true)) => Bound::Deferred {
                ty,
                error: self.bad_request(
                    "Not operator along with the Custom Named Condition operators is not allowed",
                ),
            },
            Ok((node, false)) => Bound::Condition {
                // `not not x` is `x` in three-valued logic too; unwrapping keeps a chain of
                // `not`s from nesting the evaluated tree (and its recursive evaluation).
                node: match node {
                    Node::Not(inner) => *inner,
                    node => Node::Not(Box::new(node)),
                },
                named: false,
            },
            Err(error) => Bound::Deferred { ty, error },
        })
    }

    fn comparable(&self, left: &Ty, right: &Ty) -> bool {
        match (left, right) {
            (Ty::Null | Ty::Unknown, _) | (_, Ty::Null | Ty::Unknown) => true,
            (Ty::Edm(left), Ty::Edm(right)) => {
                left == right
                    || (is_numeric(left) && is_numeric(right))
                    || (is_date(left) && is_date(right))
                    || (self.options.quoted_guid_literals
                        && matches!(
                            (*left, *right),
                            ("Edm.Guid", "Edm.String") | ("Edm.String", "Edm.Guid")
                        ))
            }
            _ => false,
        }
    }

    fn compare(&self, left: Bound, op: CompareOp, right: Bound) -> Result<Bound, QueryError> {
        let kind = op.kind_name();
        self.single_binary(&left, kind)?;
        self.single_binary(&right, kind)?;
        let (left_ty, right_ty) = (left.ty(), right.ty());
        let boolean = Ty::Edm("Edm.Boolean");
        let comparison = match op {
            CompareOp::Has => {
                return Ok(self.deferred(boolean, "operator 'has'"));
            }
            CompareOp::Equal => Comparison::Equal,
            CompareOp::NotEqual => Comparison::NotEqual,
            CompareOp::GreaterThan => Comparison::Greater,
            CompareOp::GreaterThanOrEqual => Comparison::GreaterOrEqual,
            CompareOp::LessThan => Comparison::Less,
            CompareOp::LessThanOrEqual => Comparison::LessOrEqual,
        };
        if !self.comparable(&left_ty, &right_ty) {
            return Err(self.incompatible(&left_ty, &right_ty, kind));
        }
        Ok(match (left, right) {
            (Bound::Deferred { error, .. }, _) | (_, Bound::Deferred { error, .. }) => {
                Bound::Deferred { ty: boolean, error }
            }
            (Bound::Column(column), Bound::Literal(literal)) => {
                self.column_literal(&column, comparison, &literal)
            }
            (Bound::Literal(literal), Bound::Column(column)) => {
                self.column_literal(&column, comparison.flipped(), &literal)
            }
            (Bound::Column(left), Bound::Column(right)) if left.edm == right.edm => {
                Bound::Condition {
                    node: Node::Columns {
                        left: left.column(),
                        comparison,
                        right: right.column(),
                    },
                    named: false,
                }
            }
            (Bound::Column(left), Bound::Column(right)) => self.deferred(
                boolean,
                format_args!(
                    "comparison of columns of different types ('{}' is '{}', '{}' is '{}')",
                    left.name, left.edm, right.name, right.edm
                ),
            ),
            (Bound::Navigation { name, .. }, _) | (_, Bound::Navigation { name, .. }) => self
                .deferred(
                    boolean,
                    format_args!(
                        "comparison of the navigation property '{name}' (compare '_{name}_value')"
                    ),
                ),
            _ => self.deferred(
                boolean,
                "comparison that is not between a column and a literal or two columns",
            ),
        })
    }

    fn column_literal(
        &self,
        column: &ColumnRef,
        comparison: Comparison,
        literal: &Literal,
    ) -> Bound {
        let node = if literal.kind == TokenKind::Null {
            match comparison {
                Comparison::Equal | Comparison::NotEqual => Node::Null {
                    column: column.column(),
                    negated: comparison == Comparison::NotEqual,
                },
                _ => {
                    return Bound::Deferred {
                        ty: Ty::Edm("Edm.Boolean"),
                        error: self.bad_request(format!(
                            "Condition for attribute '{}.{}': null is not a valid value for an attribute. Use 'Null' or 'NotNull' conditions instead.",
                            self.table.logical_name, column.logical_name
                        )),
                    };
                }
            }
        } else {
            match self.literal_scalar(column.column_type, literal) {
                Some(value) => Node::Compare {
                    column: column.column(),
                    comparison,
                    value,
                },
                None => {
                    return self.deferred(
                        Ty::Edm("Edm.Boolean"),
                        format_args!(
                            "comparison of '{}' ({}) with the literal {}",
                            column.name,
                            column.edm,
                            echo(&literal.text)
                        ),
                    );
                }
            }
        };
        Bound::Condition { node, named: false }
    }

    /// The literal as a value of the column's type (types were checked already). A date
    /// literal (`2024-01-01`) against a date-time column means midnight UTC of that day; how
    /// Dataverse treats it for user-local columns is UNCONFIRMED.
    fn literal_scalar(&self, column_type: ColumnType, literal: &Literal) -> Option<Scalar> {
        let text = literal.text.as_str();
        match (column_type, literal.kind) {
            (ColumnType::Text, TokenKind::String) => literal.string_value().map(Scalar::Text),
            (ColumnType::Integer | ColumnType::Number, TokenKind::Integer | TokenKind::Int64) => {
                let digits = text.trim_end_matches(['L', 'l']);
                match digits.parse::<i64>() {
                    Ok(integer) => Some(Scalar::Integer(integer)),
                    Err(_) => digits.parse::<f64>().ok().map(Scalar::Number),
                }
            }
            (
                ColumnType::Integer | ColumnType::Number,
                TokenKind::Single | TokenKind::Double | TokenKind::Decimal,
            ) => {
                let digits = text.trim_end_matches(['M', 'm', 'D', 'd', 'F', 'f']);
                let digits = digits
                    .strip_suffix("INF")
                    .map_or(digits, |sign| if sign == "-" { "-inf" } else { "inf" });
                digits.parse::<f64>().ok().map(Scalar::Number)
            }
            (ColumnType::Boolean, TokenKind::Boolean) => Some(Scalar::Boolean(text == "true")),
            (ColumnType::DateTime, TokenKind::DateTimeOffset) => {
                scalar::parse_date_time(text).map(Scalar::DateTime)
            }
            (ColumnType::DateTime, TokenKind::Date) => {
                scalar::parse_date(text).map(Scalar::DateTime)
            }
            (ColumnType::Guid, TokenKind::Guid) => Uuid::try_parse(text).ok().map(Scalar::Guid),
            (ColumnType::Guid, TokenKind::String) if self.options.quoted_guid_literals => literal
                .string_value()
                .and_then(|value| Uuid::try_parse(&value).ok())
                .map(Scalar::Guid),
            _ => None,
        }
    }

    fn arithmetic(&self, left: Bound, op: ArithmeticOp, right: Bound) -> Result<Bound, QueryError> {
        let kind = op.kind_name();
        self.single_binary(&left, kind)?;
        self.single_binary(&right, kind)?;
        let (left_ty, right_ty) = (left.ty(), right.ty());
        if !left_ty.is_numeric_like() || !right_ty.is_numeric_like() {
            return Err(self.incompatible(&left_ty, &right_ty, kind));
        }
        let ty = if matches!(left_ty, Ty::Edm(_)) {
            left_ty
        } else {
            right_ty
        };
        Ok(self.deferred(ty, format_args!("arithmetic operator '{}'", op.keyword())))
    }

    fn call(
        &self,
        name: &str,
        arguments: &Arguments,
        parent: Option<&Expr>,
    ) -> Result<Bound, QueryError> {
        if let Some(parent) = parent {
            self.bind(parent)?;
            return Ok(self.deferred(Ty::Unknown, format_args!("bound function '{}'", echo(name))));
        }
        let anchor = match name {
            "contains" => Some(Anchor::Contains),
            "startswith" => Some(Anchor::StartsWith),
            "endswith" => Some(Anchor::EndsWith),
            _ => None,
        };
        if let Some(anchor) = anchor {
            return self.string_function(name, anchor, arguments);
        }
        if OTHER_BUILT_IN_FUNCTIONS.contains(&name) {
            if let Arguments::Positional(values) = arguments {
                for value in values {
                    self.bind(value)?;
                }
            }
            return Ok(self.deferred(Ty::Unknown, format_args!("function '{name}'")));
        }
        if let Some(function) = name.strip_prefix(QUERY_FUNCTION_PREFIX) {
            return self.query_function(function, arguments);
        }
        Err(self.bad_request(format!(
            "An unknown function with name '{name}' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.",
            name = echo(name),
        )))
    }

    fn string_function(
        &self,
        name: &str,
        anchor: Anchor,
        arguments: &Arguments,
    ) -> Result<Bound, QueryError> {
        let no_signature = || {
            self.bad_request(format!(
                "No function signature for the function with name '{name}' matches the specified arguments. The function signatures considered are: {name}(Edm.String Nullable=true, Edm.String Nullable=true)."
            ))
        };
        let Arguments::Positional(values) = arguments else {
            return Err(no_signature());
        };
        let mut bound = Vec::with_capacity(values.len());
        for value in values {
            let argument = self.bind(value)?;
            if matches!(argument, Bound::Collection { .. }) {
                return Err(self.bad_request(format!(
                    "The argument for an invocation of a function with name '{name}' is not a single value. All arguments for this function must be single values."
                )));
            }
            bound.push(argument);
        }
        let text_like =
            |bound: &Bound| matches!(bound.ty(), Ty::Null | Ty::Unknown | Ty::Edm("Edm.String"));
        if bound.len() != 2 || !bound.iter().all(text_like) {
            return Err(no_signature());
        }
        let boolean = Ty::Edm("Edm.Boolean");
        Ok(match (&bound[0], &bound[1]) {
            (Bound::Deferred { error, .. }, _) | (_, Bound::Deferred { error, .. }) => {
                Bound::Deferred {
                    ty: boolean,
                    error: error.clone(),
                }
            }
            (Bound::Column(column), Bound::Literal(literal))
                if literal.kind == TokenKind::String =>
            {
                match literal.string_value() {
                    Some(value) => Bound::Condition {
                        node: Node::Like {
                            column: column.column(),
                            pattern: LikePattern::new(anchor, &value),
                        },
                        named: false,
                    },
                    None => self.deferred(boolean, format_args!("literal {}", literal.text)),
                }
            }
            _ => self.deferred(
                boolean,
                format_args!("function '{name}' other than {name}(column, 'text')"),
            ),
        })
    }

    /// `Microsoft.Dynamics.CRM.In`, `NotIn`, `Between` and `NotBetween`; the other Dataverse
    /// query functions are answered with 501.
    fn query_function(&self, function: &str, arguments: &Arguments) -> Result<Bound, QueryError> {
        let (negated, between) = match function {
            "In" => (false, false),
            "NotIn" => (true, false),
            "Between" => (false, true),
            "NotBetween" => (true, true),
            _ => {
                return Ok(self.deferred(
                    Ty::Edm("Edm.Boolean"),
                    format_args!("query function '{QUERY_FUNCTION_PREFIX}{}'", echo(function)),
                ));
            }
        };
        let full_name = format!("{QUERY_FUNCTION_PREFIX}{function}");
        let Arguments::Named(named) = arguments else {
            return Err(self.bad_request(format!(
                "The function '{full_name}' takes named parameters: PropertyName and PropertyValues."
            )));
        };
        let argument = |wanted: &str| {
            named
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value)
                .ok_or_else(|| {
                    self.bad_request(format!(
                        "The function '{full_name}' requires the parameter '{wanted}'."
                    ))
                })
        };
        let property_text = self.argument_text(argument("PropertyName")?)?;
        let property = property_text
            .strip_prefix('\'')
            .and_then(|rest| rest.strip_suffix('\''))
            .map(|inner| inner.replace("''", "'"))
            .ok_or_else(|| {
                self.bad_request(format!(
                    "The PropertyName of '{full_name}' must be a string literal such as 'name'."
                ))
            })?;
        let column = self.query_function_column(&property)?;
        let values_text = self.argument_text(argument("PropertyValues")?)?;
        let items = parse_json_array(&values_text).map_err(|message| self.bad_request(message))?;
        let mut values = Vec::with_capacity(items.len());
        for item in &items {
            let value = text_scalar(column.column_type, item).ok_or_else(|| {
                self.bad_request(format!(
                    "The value '{}' in PropertyValues is not a valid '{}' value for the attribute '{}'.",
                    echo(item),
                    column.edm,
                    column.logical_name
                ))
            })?;
            values.push(value);
        }
        let node = if between {
            let [low, high] = <[Scalar; 2]>::try_from(values).map_err(|_| {
                self.bad_request(format!(
                    "The function '{full_name}' requires exactly two PropertyValues."
                ))
            })?;
            Node::Between {
                column: column.column(),
                low,
                high,
            }
        } else {
            Node::In {
                column: column.column(),
                values,
            }
        };
        let node = if negated {
            Node::Not(Box::new(node))
        } else {
            node
        };
        Ok(Bound::Condition { node, named: true })
    }

    /// The raw text of a query-function argument: a literal, or the value of an alias.
    fn argument_text(&self, argument: &Expr) -> Result<String, QueryError> {
        match argument {
            Expr::Literal(literal) => Ok(literal.text.clone()),
            Expr::Alias(name) => self.aliases.get(name).cloned().ok_or_else(|| {
                self.bad_request(format!(
                    "The parameter alias '{}' has no value.",
                    echo(name)
                ))
            }),
            _ => Err(self.bad_request(
                "Dataverse query function parameters must be literals or parameter aliases.",
            )),
        }
    }

    /// `PropertyName` is a logical name (`ownerid`) or the Web API name (`_ownerid_value`).
    fn query_function_column(&self, property: &str) -> Result<ColumnRef, QueryError> {
        let table = self.table;
        let column = column_by_web_api_name(table, property).or_else(|| {
            table
                .columns
                .iter()
                .find(|column| column.logical_name == property)
        });
        let Some(column) = column else {
            return Err(self.bad_request(format!(
                "'{}' entity doesn't contain attribute with Name = '{}' and NameMapping = 'Logical'.",
                table.logical_name,
                echo(property)
            )));
        };
        Ok(ColumnRef {
            name: column.web_api_name(),
            logical_name: column.logical_name.clone(),
            edm: column.edm_type(),
            column_type: ColumnType::of(column),
        })
    }
}

/// `left and right` / `left or right`, flattening chains of the same operator.
fn join(kind: &str, left: Node, right: Node) -> Node {
    if kind == "And" {
        let mut nodes = match left {
            Node::And(nodes) => nodes,
            other => vec![other],
        };
        nodes.push(right);
        Node::And(nodes)
    } else {
        let mut nodes = match left {
            Node::Or(nodes) => nodes,
            other => vec![other],
        };
        nodes.push(right);
        Node::Or(nodes)
    }
}

fn is_date(edm: &str) -> bool {
    matches!(edm, "Edm.Date" | "Edm.DateTimeOffset")
}

/// The first segment of a path `a/b/c`.
fn path_root(mut expression: &Expr) -> &Expr {
    while let Expr::Property {
        parent: Some(parent),
        ..
    } = expression
    {
        expression = parent;
    }
    expression
}

/// `a/b/c` as written, for messages.
fn path_text(mut expression: &Expr) -> String {
    let mut segments = Vec::new();
    loop {
        match expression {
            Expr::Property { name, parent } => {
                segments.push(name.as_str());
                match parent {
                    Some(parent) => expression = parent,
                    None => break,
                }
            }
            Expr::RangeVariable(name) => {
                segments.push(name.as_str());
                break;
            }
            _ => {
                segments.push("…");
                break;
            }
        }
    }
    segments.reverse();
    segments.join("/")
}

/// The column whose Web API name is `name` (`_x_value` for lookups), without allocating.
pub(crate) fn column_by_web_api_name<'t>(
    table: &'t TableDefinition,
    name: &str,
) -> Option<&'t crate::schema::ColumnDefinition> {
    table.columns.iter().find(|column| match column.kind {
        ColumnKind::Lookup { .. } | ColumnKind::Owner => {
            name.strip_prefix('_')
                .and_then(|rest| rest.strip_suffix("_value"))
                == Some(column.logical_name.as_str())
        }
        _ => column.logical_name == name,
    })
}

/// The entity type of the single-valued navigation property `name`: a lookup with one target
/// (`primarycontactid` → `Microsoft.Dynamics.CRM.contact`) or the owner (`principal`).
pub(crate) fn navigation_type(table: &TableDefinition, name: &str) -> Option<String> {
    let column = table
        .columns
        .iter()
        .find(|column| column.logical_name == name)?;
    match &column.kind {
        ColumnKind::Lookup { targets } if targets.len() == 1 => {
            Some(format!("Microsoft.Dynamics.CRM.{}", targets[0]))
        }
        ColumnKind::Owner => Some("Microsoft.Dynamics.CRM.principal".to_owned()),
        _ => None,
    }
}

/// A `PropertyValues` item converted to the column's type.
fn text_scalar(column_type: ColumnType, text: &str) -> Option<Scalar> {
    Some(match column_type {
        ColumnType::Text => Scalar::Text(text.to_owned()),
        ColumnType::Integer | ColumnType::Number => match text.trim().parse::<i64>() {
            Ok(integer) => Scalar::Integer(integer),
            Err(_) => Scalar::Number(text.trim().parse::<f64>().ok()?),
        },
        ColumnType::Boolean => match text.trim() {
            flag if flag.eq_ignore_ascii_case("true") || flag == "1" => Scalar::Boolean(true),
            flag if flag.eq_ignore_ascii_case("false") || flag == "0" => Scalar::Boolean(false),
            _ => return None,
        },
        ColumnType::DateTime => Scalar::DateTime(
            scalar::parse_date_time(text.trim()).or_else(|| scalar::parse_date(text.trim()))?,
        ),
        ColumnType::Guid => Scalar::Guid(Uuid::try_parse(text.trim()).ok()?),
    })
}

/// Parses the JSON array of `PropertyValues` leniently, like Microsoft.OData's JSON reader:
/// strings in double or single quotes, numbers, `true`/`false`. Items come back as text.
fn parse_json_array(text: &str) -> Result<Vec<String>, String> {
    const MISSING_COMMA: &str = "Invalid JSON. A comma character ',' was expected in scope 'Array'. Every two elements in an array and properties of an object must be separated by commas.";
    let invalid = |detail: &str| format!("Invalid JSON. {detail}");
    let characters: Vec<char> = text.trim().chars().collect();
    if characters.first() != Some(&'[') {
        return Err(invalid(
            "PropertyValues must be a JSON array such as [\"a\",\"b\"].",
        ));
    }
    let mut items = Vec::new();
    let mut index = 1;
    let skip_whitespace = |index: &mut usize| {
        while characters
            .get(*index)
            .is_some_and(|character| character.is_whitespace())
        {
            *index += 1;
        }
    };
    skip_whitespace(&mut index);
    if characters.get(index) == Some(&']') {
        return Ok(items);
    }
    loop {
        skip_whitespace(&mut index);
        match characters.get(index) {
            Some(&quote @ ('"' | '\'')) => {
                let mut item = String::new();
                index += 1;
                loop {
                    match characters.get(index) {
                        None => return Err(invalid("Unexpected end of input in a string.")),
                        Some('\\') => {
                            let escaped = characters.get(index + 1).copied();
                            item.push(match escaped {
                                Some('n') => '\n',
                                Some('t') => '\t',
                                Some(other) => other,
                                None => {
                                    return Err(invalid("Unexpected end of input in a string."));
                                }
                            });
                            index += 2;
                        }
                        Some(&character) if character == quote => {
                            index += 1;
                            break;
                        }
                        Some(&character) => {
                            item.push(character);
                            index += 1;
                        }
                    }
                }
                items.push(item);
            }
            Some(_) => {
                let start = index;
                while characters.get(index).is_some_and(|character| {
                    !matches!(character, ',' | ']') && !character.is_whitespace()
                }) {
                    index += 1;
                }
                let item: String = characters[start..index].iter().collect();
                if item.is_empty() {
                    return Err(invalid("A value was expected in scope 'Array'."));
                }
                items.push(item);
            }
            None => return Err(invalid("Unexpected end of input in scope 'Array'.")),
        }
        skip_whitespace(&mut index);
        match characters.get(index) {
            Some(',') => index += 1,
            Some(']') if index + 1 == characters.len() => return Ok(items),
            Some(']') => return Err(invalid("Additional text found after the end of the array.")),
            None => return Err(invalid("Unexpected end of input in scope 'Array'.")),
            Some(_) => return Err(MISSING_COMMA.to_owned()),
        }
    }
}
