//! The one depth budget of a query ([`Depth`]): every recursive step over client input (the
//! `$filter`/`$orderby` parser, each chained `/segment`, `/f()` or `/any()`, the binder, a
//! parameter alias parsed inside the binder) spends from it, so no input, however nested,
//! recurses deeper than [`MAX_DEPTH`] steps. Trees built within the budget are at most that
//! deep, which bounds every later walk over them (evaluation, `Drop`, `Clone`, `Debug`).
//! `$select` and `$expand` do not recurse: items are split by loops, `$expand` takes one level.

/// Microsoft.OData's default recursion limit (`ODataUriParserSettings.FilterLimit`), which its
/// expression parser and its binder each enforce.
pub(crate) const MAX_DEPTH: usize = 800;

/// Microsoft.OData's message (`UriQueryExpressionParser_TooDeep`) for input nested deeper than
/// [`MAX_DEPTH`], from its parser and its binder alike.
pub(crate) const TOO_DEEP: &str = "Recursion depth exceeded allowed limit.";

/// How deep the current recursion is; [`Depth::enter`] fails past [`MAX_DEPTH`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Depth {
    current: usize,
}

impl Depth {
    /// Spends `steps` steps; [`TOO_DEEP`] past the limit.
    pub(crate) fn enter(&mut self, steps: usize) -> Result<(), &'static str> {
        self.current = self.current.saturating_add(steps);
        if self.current > MAX_DEPTH {
            return Err(TOO_DEEP);
        }
        Ok(())
    }

    /// Gives back `steps` steps on the way out.
    pub(crate) fn leave(&mut self, steps: usize) {
        self.current = self.current.saturating_sub(steps);
    }
}
