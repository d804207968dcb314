//! The `$filter`/`$orderby` parser: text to an untyped [`Expr`] tree, a port of the grammar of
//! Microsoft.OData's `UriQueryExpressionParser` (precedence from loosest: `or`, `and`,
//! comparison and `has`, `add`/`sub`, `mul`/`div`/`mod`, then `not` and unary `-`). Note that
//! `not` binds tighter than `eq`: `not name eq 'x'` is `(not name) eq 'x'`, a type error in
//! OData, exactly as Microsoft.OData reads it.
//!
//! Chains of one operator are kept as lists, so a long `a and b and c …` never nests deeply.
//! Every grammar level entered spends one step of the query's [`Depth`] budget (Microsoft.OData's
//! count) and every chained `/segment` [`LINK_STEPS`], so no text yields an [`Expr`] deeper than
//! the budget.

use super::lexer::{Lexer, Token, TokenKind};
use crate::odata::depth::Depth;

/// The steps a chained `/segment`, `/f()` or `/any()` spends: what a parenthesized level
/// spends on its way from `(` to the expression inside (expression, or, and, comparison,
/// additive, multiplicative, primary), so a chain is at most as long as parentheses are deep
/// (about 110). A link nests the tree one level, like a parenthesized level, and the binder
/// recurses through it with frames of a few KiB in a debug build: at one step per link, a chain
/// of 790 links would be bound 790 levels deep, past a 2 MiB stack.
const LINK_STEPS: usize = 7;

/// A comparison operator (or `has`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CompareOp {
    Equal,
    NotEqual,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    Has,
}

impl CompareOp {
    fn keyword(word: &str) -> Option<CompareOp> {
        Some(match word {
            "eq" => CompareOp::Equal,
            "ne" => CompareOp::NotEqual,
            "gt" => CompareOp::GreaterThan,
            "ge" => CompareOp::GreaterThanOrEqual,
            "lt" => CompareOp::LessThan,
            "le" => CompareOp::LessThanOrEqual,
            "has" => CompareOp::Has,
            _ => return None,
        })
    }

    /// The `BinaryOperatorKind` name Microsoft.OData puts in messages.
    pub(super) fn kind_name(self) -> &'static str {
        match self {
            CompareOp::Equal => "Equal",
            CompareOp::NotEqual => "NotEqual",
            CompareOp::GreaterThan => "GreaterThan",
            CompareOp::GreaterThanOrEqual => "GreaterThanOrEqual",
            CompareOp::LessThan => "LessThan",
            CompareOp::LessThanOrEqual => "LessThanOrEqual",
            CompareOp::Has => "Has",
        }
    }
}

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ArithmeticOp {
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
}

impl ArithmeticOp {
    /// The `BinaryOperatorKind` name Microsoft.OData puts in messages.
    pub(super) fn kind_name(self) -> &'static str {
        match self {
            ArithmeticOp::Add => "Add",
            ArithmeticOp::Subtract => "Subtract",
            ArithmeticOp::Multiply => "Multiply",
            ArithmeticOp::Divide => "Divide",
            ArithmeticOp::Modulo => "Modulo",
        }
    }

    /// The keyword in the query text.
    pub(super) fn keyword(self) -> &'static str {
        match self {
            ArithmeticOp::Add => "add",
            ArithmeticOp::Subtract => "sub",
            ArithmeticOp::Multiply => "mul",
            ArithmeticOp::Divide => "div",
            ArithmeticOp::Modulo => "mod",
        }
    }
}

/// A literal as written.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Literal {
    pub(super) kind: TokenKind,
    /// The text of the literal (quotes included for strings), with a folded `-` sign.
    pub(super) text: String,
}

impl Literal {
    /// The value of a `'…'` string literal, with `''` unescaped.
    pub(super) fn string_value(&self) -> Option<String> {
        let inner = self.text.strip_prefix('\'')?.strip_suffix('\'')?;
        Some(inner.replace("''", "'"))
    }
}

/// Function arguments: `f(a, b)` or `f(Name=a, Other=b)`.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Arguments {
    Positional(Vec<Expr>),
    Named(Vec<(String, Expr)>),
}

/// An untyped expression.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Compare(Box<Expr>, Vec<(CompareOp, Expr)>),
    Arithmetic(Box<Expr>, Vec<(ArithmeticOp, Expr)>),
    Not(Box<Expr>),
    Negate(Box<Expr>),
    Literal(Literal),
    /// A property, or a path segment `parent/name`.
    Property {
        name: String,
        parent: Option<Box<Expr>>,
    },
    /// The variable of a lambda (`o` in `any(o: o/name eq 'x')`).
    RangeVariable(String),
    Call {
        name: String,
        arguments: Arguments,
        parent: Option<Box<Expr>>,
    },
    Lambda {
        any: bool,
        parent: Box<Expr>,
    },
    /// `Namespace.Name` (type casts, enum values).
    Dotted(String),
    /// `@p1`.
    Alias(String),
    Star,
}

/// Parses a `$filter` expression.
pub(super) fn parse_filter(text: &str) -> Result<Expr, String> {
    parse_filter_at(text, Depth::default())
}

/// Parses a `$filter` expression nested inside a recursion already `depth` deep (a parameter
/// alias read by the binder).
pub(super) fn parse_filter_at(text: &str, depth: Depth) -> Result<Expr, String> {
    let mut parser = Parser::new(text)?;
    parser.depth = depth;
    let expression = parser.expression()?;
    parser.expect_end()?;
    Ok(expression)
}

/// Parses a `$orderby` list: expressions, each optionally followed by `asc` or `desc`.
pub(super) fn parse_order_by(text: &str) -> Result<Vec<(Expr, bool)>, String> {
    let mut parser = Parser::new(text)?;
    let mut items = Vec::new();
    loop {
        let expression = parser.expression()?;
        let descending = if parser.identifier_is("asc") {
            parser.next()?;
            false
        } else if parser.identifier_is("desc") {
            parser.next()?;
            true
        } else {
            false
        };
        items.push((expression, descending));
        if parser.current.kind != TokenKind::Comma {
            break;
        }
        parser.next()?;
    }
    parser.expect_end()?;
    Ok(items)
}

struct Parser<'t> {
    lexer: Lexer<'t>,
    current: Token,
    depth: Depth,
    range_variables: Vec<String>,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Result<Parser<'t>, String> {
        let mut lexer = Lexer::new(text);
        let current = lexer.next_token()?;
        Ok(Parser {
            lexer,
            current,
            depth: Depth::default(),
            range_variables: Vec::new(),
        })
    }

    fn next(&mut self) -> Result<(), String> {
        self.current = self.lexer.next_token()?;
        Ok(())
    }

    fn text_of(&self, token: Token) -> &'t str {
        self.lexer
            .text()
            .get(token.start..token.end)
            .unwrap_or_default()
    }

    fn identifier_is(&self, word: &str) -> bool {
        self.current.kind == TokenKind::Identifier && self.text_of(self.current) == word
    }

    /// `Syntax error at position {after the current token}` unless the text is done.
    fn expect_end(&self) -> Result<(), String> {
        self.expect(TokenKind::End)
    }

    fn expect(&self, kind: TokenKind) -> Result<(), String> {
        if self.current.kind == kind {
            return Ok(());
        }
        Err(self.lexer.error_at("Syntax error", self.lexer.position()))
    }

    fn error_at_current(&self, what: &str) -> String {
        self.lexer.error_at(what, self.current.start)
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth.enter(1).map_err(str::to_owned)
    }

    fn leave(&mut self) {
        self.depth.leave(1);
    }

    fn expression(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let expression = self.or()?;
        self.leave();
        Ok(expression)
    }

    // Each binary level parses its first operand here and the rest of its chain in a frame of
    // its own: these frames are on the stack once per parenthesized level.

    fn or(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let first = self.and()?;
        let expression = self.or_rest(first);
        self.leave();
        expression
    }

    fn or_rest(&mut self, first: Expr) -> Result<Expr, String> {
        let mut operands = vec![first];
        while self.identifier_is("or") {
            self.next()?;
            operands.push(self.and()?);
        }
        Ok(collapse(operands, Expr::Or))
    }

    fn and(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let first = self.comparison()?;
        let expression = self.and_rest(first);
        self.leave();
        expression
    }

    fn and_rest(&mut self, first: Expr) -> Result<Expr, String> {
        let mut operands = vec![first];
        while self.identifier_is("and") {
            self.next()?;
            operands.push(self.comparison()?);
        }
        Ok(collapse(operands, Expr::And))
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let first = self.additive()?;
        let expression = self.comparison_rest(first);
        self.leave();
        expression
    }

    fn comparison_rest(&mut self, first: Expr) -> Result<Expr, String> {
        let mut rest = Vec::new();
        while self.current.kind == TokenKind::Identifier {
            let Some(op) = CompareOp::keyword(self.text_of(self.current)) else {
                break;
            };
            self.next()?;
            rest.push((op, self.additive()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Compare(Box::new(first), rest)
        })
    }

    fn additive(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let first = self.multiplicative()?;
        let expression = self.additive_rest(first);
        self.leave();
        expression
    }

    fn additive_rest(&mut self, first: Expr) -> Result<Expr, String> {
        let mut rest = Vec::new();
        loop {
            let op = if self.identifier_is("add") {
                ArithmeticOp::Add
            } else if self.identifier_is("sub") {
                ArithmeticOp::Subtract
            } else {
                break;
            };
            self.next()?;
            rest.push((op, self.multiplicative()?));
        }
        Ok(arithmetic(first, rest))
    }

    fn multiplicative(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let first = self.unary()?;
        let expression = self.multiplicative_rest(first);
        self.leave();
        expression
    }

    fn multiplicative_rest(&mut self, first: Expr) -> Result<Expr, String> {
        let mut rest = Vec::new();
        loop {
            let op = if self.identifier_is("mul") {
                ArithmeticOp::Multiply
            } else if self.identifier_is("div") {
                ArithmeticOp::Divide
            } else if self.identifier_is("mod") {
                ArithmeticOp::Modulo
            } else {
                break;
            };
            self.next()?;
            rest.push((op, self.unary()?));
        }
        Ok(arithmetic(first, rest))
    }

    fn unary(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let negate = self.current.kind == TokenKind::Minus;
        if negate || self.identifier_is("not") {
            let operator = self.current;
            self.next()?;
            if negate && self.current.kind.is_numeric() {
                self.current.sign_start = Some(operator.start);
                self.leave();
                return self.primary();
            }
            let operand = Box::new(self.unary()?);
            self.leave();
            return Ok(if negate {
                Expr::Negate(operand)
            } else {
                Expr::Not(operand)
            });
        }
        self.leave();
        self.primary()
    }

    /// A primary and its links. This frame, like every grammar level's, is on the stack once
    /// per parenthesized level, so the work is done in other frames (debug builds give every
    /// local of a function its own stack slot).
    fn primary(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let start = if self.lexer.peek()?.kind == TokenKind::Slash {
            self.segment(None)
        } else {
            self.primary_start()
        };
        let expression = self.links(start?);
        self.leave();
        expression
    }

    /// The `/segment`, `/f()` and `/any()` links after a primary.
    fn links(&mut self, mut expression: Expr) -> Result<Expr, String> {
        // Each link nests the tree one level deeper without a recursive call here, but the
        // binder and every walk over the tree recurse through it.
        let mut spent = 0;
        while self.current.kind == TokenKind::Slash {
            self.depth.enter(LINK_STEPS).map_err(str::to_owned)?;
            spent += LINK_STEPS;
            self.next()?;
            expression = if self.identifier_is("any") || self.identifier_is("all") {
                self.lambda(expression)?
            } else if self.lexer.peek()?.kind == TokenKind::Slash {
                self.segment(Some(expression))?
            } else {
                self.identifier(Some(expression))?
            };
        }
        self.depth.leave(spent);
        Ok(expression)
    }

    fn primary_start(&mut self) -> Result<Expr, String> {
        match self.current.kind {
            TokenKind::Alias => self.alias(),
            TokenKind::Identifier => self.identifier(None),
            TokenKind::OpenParen => self.parenthesized(),
            TokenKind::Star => self.star(),
            kind if is_literal(kind) => self.literal(kind),
            _ => Err(self.error_at_current("Expression expected")),
        }
    }

    fn alias(&mut self) -> Result<Expr, String> {
        let name = self.text_of(self.current).to_owned();
        self.next()?;
        Ok(Expr::Alias(name))
    }

    fn star(&mut self) -> Result<Expr, String> {
        self.next()?;
        Ok(Expr::Star)
    }

    fn literal(&mut self, kind: TokenKind) -> Result<Expr, String> {
        let token = self.current;
        let text = match token.sign_start {
            Some(_) => format!("-{}", self.text_of(token)),
            None => self.text_of(token).to_owned(),
        };
        self.next()?;
        Ok(Expr::Literal(Literal { kind, text }))
    }

    fn parenthesized(&mut self) -> Result<Expr, String> {
        if self.current.kind != TokenKind::OpenParen {
            return Err(self.error_at_current("'(' expected"));
        }
        self.next()?;
        let expression = self.expression()?;
        if self.current.kind != TokenKind::CloseParen {
            return Err(self.error_at_current("')' or operator expected"));
        }
        self.next()?;
        Ok(expression)
    }

    /// `name/` in a path: a navigation segment (or the lambda variable).
    fn segment(&mut self, parent: Option<Expr>) -> Result<Expr, String> {
        let name = self.identifier_text()?;
        self.next()?;
        if parent.is_none() && self.range_variables.contains(&name) {
            return Ok(Expr::RangeVariable(name));
        }
        Ok(Expr::Property {
            name,
            parent: parent.map(Box::new),
        })
    }

    fn identifier_text(&self) -> Result<String, String> {
        if self.current.kind != TokenKind::Identifier {
            let position = self.lexer.char_position(self.current.start);
            return Err(format!(
                "An identifier was expected at position {position}."
            ));
        }
        Ok(self.text_of(self.current).to_owned())
    }

    fn identifier(&mut self, parent: Option<Expr>) -> Result<Expr, String> {
        self.expect(TokenKind::Identifier)?;
        if self.expand_identifier_as_function()? {
            return self.call(parent);
        }
        self.name(parent)
    }

    /// `f(…)`: its own frame, which nested calls stack once per level.
    fn call(&mut self, parent: Option<Expr>) -> Result<Expr, String> {
        let name = self.text_of(self.current).to_owned();
        self.next()?;
        let arguments = self.argument_list()?;
        Ok(Expr::Call {
            name,
            arguments,
            parent: parent.map(Box::new),
        })
    }

    /// A property, range variable or dotted name.
    fn name(&mut self, parent: Option<Expr>) -> Result<Expr, String> {
        if self.lexer.peek()?.kind == TokenKind::Dot {
            return self.dotted_identifier();
        }
        let name = self.text_of(self.current).to_owned();
        self.next()?;
        if parent.is_none() && self.range_variables.contains(&name) {
            return Ok(Expr::RangeVariable(name));
        }
        Ok(Expr::Property {
            name,
            parent: parent.map(Box::new),
        })
    }

    /// Whether the current identifier (with `.`-separated parts and no whitespace) is
    /// immediately followed by `(`; if so the current token becomes the whole name.
    fn expand_identifier_as_function(&mut self) -> Result<bool, String> {
        let saved = (self.lexer.clone(), self.current);
        self.lexer.skip_whitespace = false;
        let start = self.current.start;
        let result = (|| {
            while self.lexer.peek()?.kind == TokenKind::Dot {
                self.next()?;
                if self.lexer.peek()?.kind != TokenKind::Identifier {
                    break;
                }
                self.next()?;
            }
            Ok::<bool, String>(
                self.current.kind == TokenKind::Identifier
                    && self.lexer.peek()?.kind == TokenKind::OpenParen,
            )
        })();
        let matched = match result {
            Ok(matched) => matched,
            Err(error) => {
                self.lexer.skip_whitespace = true;
                return Err(error);
            }
        };
        if matched {
            self.current.start = start;
        } else {
            (self.lexer, self.current) = saved;
        }
        self.lexer.skip_whitespace = true;
        Ok(matched)
    }

    fn argument_list(&mut self) -> Result<Arguments, String> {
        if self.current.kind != TokenKind::OpenParen {
            return Err(self.error_at_current("'(' expected"));
        }
        self.next()?;
        let arguments = if self.current.kind == TokenKind::CloseParen {
            Arguments::Positional(Vec::new())
        } else {
            self.arguments()?
        };
        if self.current.kind != TokenKind::CloseParen {
            return Err(self.error_at_current("')' or ',' expected"));
        }
        self.next()?;
        Ok(arguments)
    }

    fn arguments(&mut self) -> Result<Arguments, String> {
        if self.current.kind == TokenKind::Identifier && self.lexer.peek()?.kind == TokenKind::Equal
        {
            return self.named_arguments();
        }
        self.positional_arguments()
    }

    fn named_arguments(&mut self) -> Result<Arguments, String> {
        let mut named = Vec::new();
        loop {
            let name = self.identifier_text()?;
            self.next()?;
            self.expect(TokenKind::Equal)?;
            self.next()?;
            let value = self.expression()?;
            if named.iter().any(|(existing, _)| *existing == name) {
                return Err("Parameter or entity key names must be unique. There is most likely an error in the model.".to_owned());
            }
            named.push((name, value));
            if self.current.kind != TokenKind::Comma {
                break;
            }
            self.next()?;
        }
        Ok(Arguments::Named(named))
    }

    fn positional_arguments(&mut self) -> Result<Arguments, String> {
        let mut positional = vec![self.expression()?];
        while self.current.kind == TokenKind::Comma {
            self.next()?;
            positional.push(self.expression()?);
        }
        Ok(Arguments::Positional(positional))
    }

    fn dotted_identifier(&mut self) -> Result<Expr, String> {
        let mut name = self.text_of(self.current).to_owned();
        self.next()?;
        while self.current.kind == TokenKind::Dot {
            self.next()?;
            if !matches!(self.current.kind, TokenKind::Identifier | TokenKind::Quoted) {
                return Err(self.lexer.error_at("Syntax error", self.lexer.position()));
            }
            name.push('.');
            name.push_str(self.text_of(self.current));
            self.next()?;
        }
        Ok(Expr::Dotted(name))
    }

    fn lambda(&mut self, parent: Expr) -> Result<Expr, String> {
        let any = self.identifier_is("any");
        self.next()?;
        if self.current.kind != TokenKind::OpenParen {
            return Err(self.error_at_current("'(' expected"));
        }
        self.next()?;
        if self.current.kind == TokenKind::CloseParen {
            self.next()?;
            return Ok(Expr::Lambda {
                any,
                parent: Box::new(parent),
            });
        }
        let variable = self.identifier_text()?;
        if self.range_variables.contains(&variable) {
            return Err(format!(
                "The range variable '{}' has already been declared.",
                fake_core::echo(&variable)
            ));
        }
        self.range_variables.push(variable);
        self.next()?;
        self.expect(TokenKind::Colon)?;
        self.next()?;
        self.expression()?;
        if self.current.kind != TokenKind::CloseParen {
            return Err(self.error_at_current("')' or ',' expected"));
        }
        self.range_variables.pop();
        self.next()?;
        Ok(Expr::Lambda {
            any,
            parent: Box::new(parent),
        })
    }
}

fn is_literal(kind: TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::String
            | TokenKind::Integer
            | TokenKind::Int64
            | TokenKind::Single
            | TokenKind::Double
            | TokenKind::Decimal
            | TokenKind::Boolean
            | TokenKind::Null
            | TokenKind::Guid
            | TokenKind::Date
            | TokenKind::DateTimeOffset
            | TokenKind::TimeOfDay
            | TokenKind::Duration
            | TokenKind::Binary
            | TokenKind::Quoted
            | TokenKind::Bracketed
            | TokenKind::Braced
    )
}

fn collapse(mut operands: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    if operands.len() == 1
        && let Some(single) = operands.pop()
    {
        return single;
    }
    join(operands)
}

fn arithmetic(first: Expr, rest: Vec<(ArithmeticOp, Expr)>) -> Expr {
    if rest.is_empty() {
        first
    } else {
        Expr::Arithmetic(Box::new(first), rest)
    }
}
