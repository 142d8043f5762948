//! Lists page the PagerTree way: `limit` (1–100, default 10) with `offset`
//! or `page`, answered as `{ data, has_more, total_count }` in a stable order.

use roster_core::validation::FieldErrors;
use roster_core::Error;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many items to return, 1–100.
    #[param(minimum = 1, maximum = 100, default = 10)]
    pub limit: Option<i64>,
    /// How many items to skip. Not with `page`.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
    /// 1-based page number, counted in `limit`s. Not with `offset`.
    #[param(minimum = 1)]
    pub page: Option<i64>,
}

impl PageParams {
    /// The validated `(limit, offset)`.
    pub fn resolve(&self) -> Result<(i64, i64), Error> {
        let mut errors = FieldErrors::default();
        let limit = self.limit.unwrap_or(10);
        if !(1..=100).contains(&limit) {
            errors.push("limit", "out_of_range", "must be between 1 and 100");
        }
        if self.offset.is_some() && self.page.is_some() {
            errors.push("page", "conflicting", "give either `offset` or `page`, not both");
        }
        if self.offset.is_some_and(|o| o < 0) {
            errors.push("offset", "out_of_range", "must be 0 or more");
        }
        if self.page.is_some_and(|p| !(1..=1_000_000).contains(&p)) {
            errors.push("page", "out_of_range", "must be between 1 and 1000000");
        }
        errors.finish()?;
        let offset = match (self.offset, self.page) {
            (Some(o), _) => o,
            (None, Some(p)) => (p - 1) * limit,
            (None, None) => 0,
        };
        Ok((limit, offset))
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub data: Vec<T>,
    /// Whether items follow this page.
    pub has_more: bool,
    /// How many items the whole list holds.
    pub total_count: i64,
}

impl<T> Paged<T> {
    pub fn new(data: Vec<T>, offset: i64, total_count: i64) -> Self {
        let has_more = offset + (data.len() as i64) < total_count;
        Self { data, has_more, total_count }
    }
}
