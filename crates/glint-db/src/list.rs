//! The image list query: Glance's `_image_get_all` visibility rules,
//! filters, sort order and keyset pagination, as one SELECT.

use glint_model::query::{
    BoolColumn, CmpOp, Filter, ImageListQuery, MemberStatusFilter, NumColumn, SortDir, SortKey,
    TextColumn, TimeColumn, VisibilityFilter,
};
use glint_model::time::to_micros;
use glint_model::{Image, ImageStatus, Visibility};
use sea_query::extension::mysql::{IndexHintScope, MySqlSelectStatementExt};
use sea_query::{Cond, Expr, ExprTrait, Order, Query, SelectStatement, UnionType, Value};

use crate::images::select_images;
use crate::rows::{IMAGES, MEMBERS, PROPERTIES, TAGS, flag, int_from_row, text_from_row};
use crate::{Database, DbError, Dialect, Viewer, exec};

impl Database {
    /// One page of the images `viewer` may list, matching `q`, in `q.sort`
    /// order, strictly after `marker` (the last image of the previous page),
    /// with their properties, tags and locations loaded.
    pub async fn list_images(
        &self,
        q: &ImageListQuery,
        limit: u64,
        marker: Option<&Image>,
        viewer: &Viewer,
    ) -> Result<Vec<Image>, DbError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // The counts and statements of the page run on one connection: on a
        // SQLite file one reader, which finds the images an earlier one read
        // in its cache; on a server, one taken from the pool once.
        self.holding_a_connection()
            .await?
            .list_page(q, limit, marker, viewer)
            .await
    }

    /// [`Database::list_images`], for a limit above zero.
    async fn list_page(
        &self,
        q: &ImageListQuery,
        limit: u64,
        marker: Option<&Image>,
        viewer: &Viewer,
    ) -> Result<Vec<Image>, DbError> {
        let mut plan = self.list_plan(q, viewer).await?;
        if plan.matches_nothing() {
            return Ok(Vec::new());
        }
        let dialect = self.dialect();
        if let Some(page) = self.page_by_runs(q, &plan, limit, marker, viewer).await? {
            return Ok(page);
        }
        if let Some(query) = self
            .sort_bounded_query(q, &plan, limit, marker, viewer)
            .await?
        {
            return self.fetch_images(query).await;
        }
        if let (true, Some(matching)) = (plan.walks(), plan.probed_rows) {
            // The probed filters match fewer than `DRIVE_ROWS` images: the
            // walk checks a bounded stretch of the list's order, as long as
            // starting from them would cost. A filter matching many images
            // may still match none of the first ones (queued images have
            // no size and come last by size); if the stretch does not fill
            // the page, the list starts from the filters instead.
            let rows = walk_rows(limit, matching);
            plan.walk_until = self.walk_end(q, &plan, rows, marker).await?;
            let bounded = plan.walk_until.is_some();
            let page = self
                .fetch_images(list_query(dialect, q, &plan, limit, marker, viewer))
                .await?;
            if !bounded || page.len() as u64 >= limit {
                return Ok(page);
            }
            plan = plan.driven();
        }
        self.fetch_images(list_query(dialect, q, &plan, limit, marker, viewer))
            .await
    }

    /// A page led by a tag or property (see [`FilterForm::Leads`]) in an
    /// order whose first key alone its index gives (two sort keys, or the
    /// tie-breakers in the other direction); `None` for any other list.
    /// Read run by run of equal first keys, so that no run is sorted
    /// whole where it is long: by status, a format, or a size (all the
    /// queued images share one), one run may hold most of a tag's images,
    /// and sorting it cost 8–15 ms for 2,000 of them (a walk along the
    /// first key's index sorts each run it meets; MariaDB sorts every row).
    /// By name or a time, where a run is a row or two, the page is the rest
    /// of the marker's run, then [`Database::short_runs`]. Otherwise the
    /// page is: the rest of the marker's run; then the next run (the
    /// first row's along the first key's index); then every row strictly
    /// between that run and the run of the `need`-th row along that index
    /// (`w`: fewer than `need` rows, sorted); then the run of `w` itself,
    /// whose rows with the earlier ones fill the page (see
    /// [`Database::run_rows`]). Each part is read only where the page is
    /// not yet full.
    async fn page_by_runs(
        &self,
        q: &ImageListQuery,
        plan: &ListPlan,
        limit: u64,
        marker: Option<&Image>,
        viewer: &Viewer,
    ) -> Result<Option<Vec<Image>>, DbError> {
        let dialect = self.dialect();
        let sort = significant_keys(&q.sort);
        let Some((filter, table)) = leading_filter(dialect, q, plan) else {
            return Ok(None);
        };
        let Some(&(key, dir)) = sort.first() else {
            return Ok(None);
        };
        if index_gives_order(sort) {
            return Ok(None);
        }
        let first = side_sort_expr(table, key);
        let mut page = Vec::new();
        if let Some(marker) = marker {
            let value = marker_value(key, marker);
            page = self
                .run_rows(q, plan, filter, value, limit, Some(marker), viewer)
                .await?;
        }
        let mut need = limit.saturating_sub(page.len() as u64);
        if need == 0 {
            return Ok(Some(page));
        }
        // Strictly past a run of first keys `value`.
        let past_run = |value: Value| match dir {
            SortDir::Asc => first.clone().gt(Expr::val(value)),
            SortDir::Desc => first.clone().lt(Expr::val(value)),
        };
        let mut past = marker.map(|marker| past_run(marker_value(key, marker)));
        if matches!(key, SortKey::Name | SortKey::CreatedAt | SortKey::UpdatedAt) {
            let rest = self
                .short_runs(
                    q,
                    plan,
                    (filter, first.clone()),
                    (key, dir),
                    need,
                    past,
                    viewer,
                )
                .await?;
            page.extend(rest);
            return Ok(Some(page));
        }
        let along = along_first_key(q, key, dir);
        // The first run past the marker's, which fills the page where it is
        // long (by status, a format, or the size all queued images share):
        // then no rows are read through to find the page's last run.
        let mut head = list_query(dialect, &along, plan, 1, None, viewer);
        if let Some(past) = &past {
            head.and_where(past.clone());
        }
        let Some(head) = self.fetch_images(head).await?.into_iter().next() else {
            return Ok(Some(page));
        };
        let value = marker_value(key, &head);
        let run = self
            .run_rows(q, plan, filter, value.clone(), need, None, viewer)
            .await?;
        need = need.saturating_sub(run.len() as u64);
        page.extend(run);
        if need == 0 {
            return Ok(Some(page));
        }
        past = Some(past_run(value));
        let mut nth = list_query(dialect, &along, plan, 1, None, viewer);
        let mut before = list_query(dialect, q, plan, need, None, viewer);
        if let Some(past) = past {
            nth.and_where(past.clone());
            before.and_where(past);
        }
        nth.offset(need - 1);
        let Some(nth) = self.fetch_images(nth).await?.into_iter().next() else {
            // Fewer than `need` rows are left: sorted whole.
            page.extend(self.fetch_images(before).await?);
            return Ok(Some(page));
        };
        let value = marker_value(key, &nth);
        before.and_where(match dir {
            SortDir::Asc => first.lt(Expr::val(value.clone())),
            SortDir::Desc => first.gt(Expr::val(value.clone())),
        });
        page.extend(self.fetch_images(before).await?);
        let need = limit.saturating_sub(page.len() as u64);
        page.extend(
            self.run_rows(q, plan, filter, value, need, None, viewer)
                .await?,
        );
        Ok(Some(page))
    }

    /// The next `need` rows of a page by runs (see
    /// [`Database::page_by_runs`]) whose first key is a name or a time,
    /// where a run is a row or two: past the marker's run (`past`), the
    /// next `need` + 1 rows along the first key's index are read once.
    /// Every run among them but the last is whole; where each of those is
    /// one row, they are already in the list's order, and the last run's
    /// rows, where the page still wants some, are read as a run (see
    /// [`Database::run_rows`]). Where a run of two rows or more is among
    /// them, those rows are read again sorted by the list's whole order,
    /// which only the database compares as it does (text in its
    /// collation).
    #[allow(clippy::too_many_arguments)]
    async fn short_runs(
        &self,
        q: &ImageListQuery,
        plan: &ListPlan,
        (filter, first): (&Filter, Expr),
        (key, dir): (SortKey, SortDir),
        need: u64,
        past: Option<Expr>,
        viewer: &Viewer,
    ) -> Result<Vec<Image>, DbError> {
        let dialect = self.dialect();
        let mut ahead = list_query(
            dialect,
            &along_first_key(q, key, dir),
            plan,
            need.saturating_add(1),
            None,
            viewer,
        );
        if let Some(past) = &past {
            ahead.and_where(past.clone());
        }
        let mut rows = self.fetch_images(ahead).await?;
        // The last run may go on past the rows read: it is read on its own.
        let last = (rows.len() as u64 > need).then(|| {
            let value = marker_value(key, &rows[rows.len() - 1]);
            while rows
                .last()
                .is_some_and(|row| marker_value(key, row) == value)
            {
                rows.pop();
            }
            value
        });
        let runs_of_one = rows
            .windows(2)
            .all(|pair| marker_value(key, &pair[0]) != marker_value(key, &pair[1]));
        if !runs_of_one {
            let mut before = list_query(dialect, q, plan, need, None, viewer);
            if let Some(past) = past {
                before.and_where(past);
            }
            if let Some(value) = &last {
                before.and_where(match dir {
                    SortDir::Asc => first.lt(Expr::val(value.clone())),
                    SortDir::Desc => first.gt(Expr::val(value.clone())),
                });
            }
            rows = self.fetch_images(before).await?;
        }
        let need = need.saturating_sub(rows.len() as u64);
        if let (Some(value), true) = (last, need > 0) {
            let run = self
                .run_rows(q, plan, filter, value, need, None, viewer)
                .await?;
            rows.extend(run);
        }
        Ok(rows)
    }

    /// Up to `limit` rows of a leading tag's or property's run of images
    /// whose first sort key is `value`, after `marker` (which is in that
    /// run), in the list's order. A short run, or one that is a small part
    /// of the tag's rows, is sorted; a long one is read along the index of
    /// the next sort key, checking the first on each row, where a page of
    /// it is found in fewer rows than the run holds.
    #[allow(clippy::too_many_arguments)]
    async fn run_rows(
        &self,
        q: &ImageListQuery,
        plan: &ListPlan,
        filter: &Filter,
        value: Value,
        limit: u64,
        marker: Option<&Image>,
        viewer: &Viewer,
    ) -> Result<Vec<Image>, DbError> {
        match self
            .run_query(q, plan, filter, value, limit, marker, viewer)
            .await?
        {
            Some(query) => self.fetch_images(query).await,
            None => Ok(Vec::new()),
        }
    }

    /// The statement [`Database::run_rows`] reads the run with; `None`
    /// where `filter` has no rows of its own to lead with.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run_query(
        &self,
        q: &ImageListQuery,
        plan: &ListPlan,
        filter: &Filter,
        value: Value,
        limit: u64,
        marker: Option<&Image>,
        viewer: &Viewer,
    ) -> Result<Option<SelectStatement>, DbError> {
        let dialect = self.dialect();
        let sort = significant_keys(&q.sort);
        let (key, _) = sort[0];
        let Some((table, _)) = leading_rows(dialect, filter, None, false) else {
            return Ok(None);
        };
        let in_run = side_sort_expr(table, key).eq(Expr::val(value));
        let rest = &sort[1..];
        let walk = leads_in_order(dialect, filter, rest)
            && self
                .run_is_walked(filter, (key, in_run.clone()), limit)
                .await?;
        let mut sub = q.clone();
        let query = if walk {
            // The first key is checked as one opaque term: compared plainly,
            // SQLite read the run through the first key's index and sorted
            // it whole. Written `<> 0`, PostgreSQL expects nearly every row
            // to pass it (as `> 0`, a third: with a member's visibility
            // rules that looked like fewer rows than a page, and it sorted
            // the whole run, 23 ms against 2.7 for 2,000 rows).
            sub.sort = rest.to_vec();
            let mut query = list_query(dialect, &sub, plan, limit, marker, viewer);
            query.and_where(opaque(Cond::all().add(in_run)).ne(Expr::cust("0")));
            query
        } else {
            let mut query = list_query(dialect, &sub, plan, limit, marker, viewer);
            query.and_where(in_run);
            query
        };
        Ok(Some(query))
    }

    /// Whether a page of `limit` rows of a leading tag's or property's run
    /// (its first sort key and the condition on that key's copy) is read
    /// along the next key's index rather than sorted: where the run holds
    /// more than [`RUN_SORTED`] rows and a page of it is found along that
    /// index in fewer rows than the run holds (`limit` × the tag's rows /
    /// the run's ≤ the run's). Counted from an index alone, each no further
    /// than that needs: the run up to [`RUN_SORTED`] + 1, the tag's rows up
    /// to the cap of a filter's count, the run again up to the square root
    /// of `limit` × those (up to the cap where the tag's rows reach it).
    /// Each count is remembered for a few seconds, whatever it found (see
    /// [`crate::stats::FullCounts`]): a stale one can only choose the
    /// slower of two ways to read the same rows.
    async fn run_is_walked(
        &self,
        filter: &Filter,
        run: (SortKey, Expr),
        limit: u64,
    ) -> Result<bool, DbError> {
        let dialect = self.dialect();
        let sorted = self.few_rows() / (FEW_ROWS / RUN_SORTED);
        let count = |cap: u64, run: Option<(SortKey, Expr)>| async move {
            match side_rows_counted(dialect, filter, run, cap) {
                Some(rows) => self.count_rows_any(rows, cap).await,
                None => Ok(0),
            }
        };
        if count(sorted + 1, Some(run.clone())).await? <= sorted {
            return Ok(false);
        }
        let cap = self.few_rows().saturating_mul(DRIVE_ROWS / FEW_ROWS);
        let all = count(cap, None).await?;
        // (A tag on more rows than the cap, uncounted: the run must reach
        // the cap too.)
        let needed = if all >= cap {
            cap
        } else {
            Ord::max(limit.saturating_mul(all).isqrt(), sorted + 1)
        };
        Ok(needed <= sorted + 1 || count(needed, Some(run)).await? >= needed)
    }

    /// On MySQL/MariaDB, for an order no index gives as it stands (two sort
    /// keys, or tie-breakers in another direction), the page's statement
    /// bounded by its first key; `None` elsewhere. MariaDB has no
    /// incremental sort: it sorted every row after the marker, though the
    /// first key's index gives most of the order (seconds at 200,000
    /// images). The bound is `k1 >= v` (`<=` ascending), where `v` is the
    /// first key of the `limit`-th row the list matches along that key's
    /// index alone, strictly past the marker's value of it: at least
    /// `limit` rows that come after the marker in the full order lie
    /// there, so every row of the page does. Without such a row (fewer
    /// past the marker's value) the page is not bounded.
    pub(crate) async fn sort_bounded_query(
        &self,
        q: &ImageListQuery,
        plan: &ListPlan,
        limit: u64,
        marker: Option<&Image>,
        viewer: &Viewer,
    ) -> Result<Option<SelectStatement>, DbError> {
        let dialect = self.dialect();
        let Some(&(key, dir)) = q.sort.first() else {
            return Ok(None);
        };
        if dialect != Dialect::MySql
            || plan.order_unindexed
            || index_gives_order(significant_keys(&q.sort))
        {
            return Ok(None);
        }
        let along = along_first_key(q, key, dir);
        let along_plan = ListPlan {
            walk_until: None,
            ..plan.clone()
        };
        let mut nth = list_query(dialect, &along, &along_plan, 1, None, viewer);
        if walks_the_order(&along, &along_plan) {
            // (Left to itself MariaDB read every row past the marker's
            // value and sorted them.)
            nth.force_index(mysql_order_index(key), IndexHintScope::All);
        }
        if let Some(marker) = marker {
            let value = Expr::val(marker_value(key, marker));
            nth.and_where(match dir {
                SortDir::Asc => sort_expr(key).gt(value),
                SortDir::Desc => sort_expr(key).lt(value),
            });
        }
        nth.offset(limit - 1);
        let mut query = list_query(dialect, q, plan, limit, marker, viewer);
        if let Some(row) = self.fetch_images(nth).await?.into_iter().next() {
            let value = Expr::val(marker_value(key, &row));
            query.and_where(match dir {
                SortDir::Asc => sort_expr(key).lte(value),
                SortDir::Desc => sort_expr(key).gte(value),
            });
        }
        Ok(Some(query))
    }

    /// The image `rows` live images into the list's order (after
    /// `marker`), where a bounded walk stops; `None` if the list ends
    /// before.
    async fn walk_end(
        &self,
        q: &ImageListQuery,
        plan: &ListPlan,
        rows: u64,
        marker: Option<&Image>,
    ) -> Result<Option<Image>, DbError> {
        let sort = significant_keys(&q.sort);
        let mut cond = Cond::all().add(img("deleted").eq(Expr::cust("0")));
        if let Some(marker) = marker {
            cond = cond.add(after_marker(sort, marker));
        }
        if let Some(past) = skip_to_data(plan, sort) {
            cond = cond.add(past);
        }
        // Only the id, which the order's index holds: skipping rows is then
        // a walk of the index alone. The row itself is read by its key.
        let mut query = Query::select()
            .column((IMAGES, "id"))
            .from(IMAGES)
            .cond_where(cond)
            .limit(1)
            .offset(rows - 1)
            .take();
        order_by(&mut query, sort, sort_expr);
        let Some(id) = self
            .read_index_rows(&query, text_from_row)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let id = id
            .parse()
            .map_err(|_| DbError::internal(format!("an image id that is not a UUID: {id}")))?;
        self.get_image_any(id).await
    }

    /// How each filter of `q` is written (see [`FilterForm`]), from a count
    /// of the live rows it matches through its own index, up to
    /// [`DRIVE_ROWS`] (its ids are read only when fewer than [`FEW_ROWS`]).
    /// A filter matching nothing answers the list at once:
    /// planners estimate an unknown value like a common one and walked
    /// every image looking for it. A filter matching many rows, whose
    /// index cannot give the list's order, is checked along the order's
    /// index instead: left to themselves, the planners started from it and
    /// sorted tens of thousands of rows. A filter matching few rows starts
    /// the list: the order is then written so that no index serves it, or
    /// the planners walked the order's index past every row the filter
    /// leaves out (they cannot tell how few a range or a tag matches). In
    /// an order whose first key is not the id a tag leads the list along
    /// its own index for that key (see [`FilterForm::Leads`]) unless another filter
    /// matches few; so does a property, where an index serves it so.
    pub(crate) async fn list_plan(
        &self,
        q: &ImageListQuery,
        viewer: &Viewer,
    ) -> Result<ListPlan, DbError> {
        let few = self.few_rows();
        let first_key = q.sort.first().map(|(key, _)| *key);
        let mut plan = ListPlan::default();
        // The filter matching fewest rows, where that is under `few`, and
        // the ids of its images.
        let mut fewest: Option<(usize, Vec<String>)> = None;
        // How many images the filters checked along the walk match, where
        // one of them matches fewer than `DRIVE_ROWS`, and the counts
        // already taken (by filter) up to that.
        let cap = few.saturating_mul(DRIVE_ROWS / FEW_ROWS);
        let mut counted: Vec<(usize, u64)> = Vec::new();
        // The filters (not tags or properties) whose own index gives the
        // order.
        let mut serving: Vec<usize> = Vec::new();
        for (i, filter) in q.filters.iter().enumerate() {
            let serves = match (filter, indexed_order(filter)) {
                (Filter::Text { values, .. }, _) if values.is_empty() => {
                    plan.filters.push(FilterForm::Empty);
                    continue;
                }
                (Filter::Tag(_) | Filter::Property { .. }, _) => false,
                (_, Some(order)) => {
                    first_key == Some(order)
                        || (first_key == Some(SortKey::CreatedAt)
                            && single_value_with_created_index(filter))
                        || first_key.is_some_and(|key| pair_index(filter, key).is_some())
                }
                (_, None) => {
                    plan.filters.push(FilterForm::Drive);
                    continue;
                }
            };
            let side_leads = leads_in_order(self.dialect(), filter, &q.sort);
            let form = if serves || side_leads {
                // Its index gives the order: walked as it stands (a tag's
                // or property's index may lead the list, see below).
                match (self.count_filter(filter, 1).await?, side_leads) {
                    (0, _) => FilterForm::Empty,
                    (_, true) => FilterForm::Probe,
                    (_, false) => {
                        serving.push(i);
                        FilterForm::Drive
                    }
                }
            } else {
                // Counted first, from an index alone: a filter matching
                // many rows is then checked along the walk without its
                // ids having been read (and the count bounds the walk).
                let rows = self.count_filter(filter, cap).await?;
                counted.push((i, rows));
                if rows == 0 {
                    FilterForm::Empty
                } else if rows >= few {
                    FilterForm::Probe
                } else if fewest.as_ref().is_some_and(|(_, f)| f.len() as u64 <= rows) {
                    FilterForm::Drive
                } else {
                    // Read up to `few` again: rows written since the count
                    // make the list incomplete only if it is cut short.
                    let ids = self.filter_ids(filter, few).await?;
                    match ids.len() as u64 {
                        0 => FilterForm::Empty,
                        n if n < few => {
                            fewest = Some((i, ids));
                            FilterForm::Drive
                        }
                        _ => FilterForm::Probe,
                    }
                }
            };
            plan.filters.push(form);
        }
        if let Some((i, ids)) = fewest {
            plan.filters[i] = FilterForm::Listed;
            plan.ids = ids;
            plan.order_unindexed = true;
        } else {
            let dialect = self.dialect();
            let first_tag = q.filters.iter().enumerate().position(|(i, filter)| {
                leads_in_order(dialect, filter, &q.sort) && plan.filters[i] == FilterForm::Probe
            });
            if let Some(i) = first_tag
                && self.leads_before(q, i, &serving, cap, &mut counted).await?
            {
                plan.filters[i] = FilterForm::Leads;
            }
        }
        let mut probed: Option<u64> = None;
        // (None when the walk is not along the order's index: a tag
        // leads, or a filter matching few starts the list.)
        let leads = plan.filters.contains(&FilterForm::Leads) || plan.order_unindexed;
        for (i, filter) in q.filters.iter().enumerate() {
            if plan.filters[i] == FilterForm::Probe && !leads {
                let rows = match counted.iter().find(|(at, _)| *at == i) {
                    Some((_, rows)) => *rows,
                    None => self.count_filter(filter, cap).await?,
                };
                probed = Some(probed.map_or(rows, |p| Ord::min(p, rows)));
            }
        }
        if let Some(VisibilityFilter::Only(v)) = q.visibility {
            let serves = first_key == Some(SortKey::CreatedAt);
            // Counted up to `cap` at once where a count from `few` on
            // would bound the walk (the form is then `Probe`).
            let probing = !serves && !leads;
            let rows = self
                .count_visibility(v, if probing { cap } else { few })
                .await?;
            plan.order_unindexed |= rows < few && !serves;
            plan.visibility = count_form(rows, few, serves);
            if plan.visibility == FilterForm::Probe && probing {
                probed = Some(probed.map_or(rows, |p| Ord::min(p, rows)));
            }
        }
        plan.probed_rows = probed.filter(|rows| *rows < cap);
        if let (Some(VisibilityFilter::Only(Visibility::Shared)), Some(project), false) =
            (q.visibility, viewer.project_id.as_deref(), viewer.is_admin)
        {
            let dialect = self.dialect();
            if dialect == Dialect::MySql && plan.visibility != FilterForm::Empty {
                // MySQL runs an `IN` over a UNION once per image it checks:
                // the ids are read first, and listed when few.
                let shared = shared_with(dialect, project, q.member_status);
                let ids = Query::select()
                    .expr(Expr::col("id"))
                    .from_subquery(shared, "shared")
                    .limit(few)
                    .take();
                let ids = self.read_index_rows(&ids, text_from_row).await?;
                if ids.is_empty() {
                    plan.visibility = FilterForm::Empty;
                } else if (ids.len() as u64) < few {
                    plan.shared_ids = ids;
                    plan.order_unindexed = true;
                }
            } else if plan.visibility != FilterForm::Empty {
                let owned = Cond::all().add(img("owner").eq(project));
                let owner_order = [img("created_at"), img("id")];
                let mut members = membership_rows(project, q.member_status);
                members.expr(Expr::cust("1")).limit(few);
                plan.shared_from_project = self.count_rows(members, few).await? < few
                    && self
                        .count_rows(live_ids(owned, &owner_order, few), few)
                        .await?
                        < few;
            }
        }
        plan.skip_no_data = self.skips_no_data(q, &plan).await?;
        Ok(plan)
    }

    /// Whether the tag or property `q.filters[side]` leads the list rather
    /// than the `serving` filters, whose own indexes give the order too
    /// (`status=queued&os_distro=cirros&sort_key=name`): the one that
    /// matches fewer rows (counted up to `cap`) is walked, the other
    /// checked along it; a tie (both at the cap) leaves the filter's index
    /// (a property on every image led a member's list on PostgreSQL into
    /// a sort of all its rows, 270 ms at 200,000 images). Counts taken go
    /// into `counted`.
    async fn leads_before(
        &self,
        q: &ImageListQuery,
        side: usize,
        serving: &[usize],
        cap: u64,
        counted: &mut Vec<(usize, u64)>,
    ) -> Result<bool, DbError> {
        if serving.is_empty() {
            return Ok(true);
        }
        let rows = self.count_filter(&q.filters[side], cap).await?;
        counted.push((side, rows));
        for &other in serving {
            if self.count_filter(&q.filters[other], cap).await? <= rows {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether the walk along the list's order may skip the images that
    /// have no data, where the list is read along the index of a sort key
    /// that sets them apart: they have no size and no formats and are
    /// `queued`, so by size or by a format they all come first ascending
    /// (last descending), and by status they lie between `saving` and
    /// `pending_delete`. A tenth of a cloud's images or more have none,
    /// and a filter that leaves all of them out (a size range, a format by
    /// status or by the other format) had the walk pass every one of them
    /// before the page began, 35 ms at 200,000 images. The images without
    /// data that a filter matches are counted (up to one) through an index
    /// on the filter's column and the sort key's; where there are none,
    /// the page says so to the order's index (see [`past_no_data`]).
    async fn skips_no_data(&self, q: &ImageListQuery, plan: &ListPlan) -> Result<bool, DbError> {
        let Some(&(key, _)) = q.sort.first() else {
            return Ok(false);
        };
        let Some(no_data) = no_data(key) else {
            return Ok(false);
        };
        if !plan.walks() || !walks_the_order(q, plan) {
            return Ok(false);
        }
        let dialect = self.dialect();
        for filter in &q.filters {
            let Some(index) = filter_column(filter).and_then(|c| pair_with(sort_column(key).0, c))
            else {
                continue;
            };
            let cond = Cond::all().add(no_data.clone()).add(filter_condition(
                dialect,
                filter,
                FilterForm::Drive,
            ));
            let mut rows = live_ids(cond, &[], 1);
            rows.force_index(index, IndexHintScope::All);
            if self.count_rows(rows, 1).await? == 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The count of matching rows from which a filter is checked along the
    /// list's order rather than starting it ([`FEW_ROWS`]).
    pub(crate) fn few_rows(&self) -> u64 {
        self.inner
            .few_rows
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    #[cfg(feature = "testing")]
    pub(crate) fn set_full_count_kept(&self, kept: std::time::Duration) {
        self.inner.full_counts.reset(kept);
    }

    #[cfg(feature = "testing")]
    pub(crate) fn set_few_rows(&self, rows: u64) {
        self.inner
            .few_rows
            .store(Ord::max(rows, 1), std::sync::atomic::Ordering::Relaxed);
        self.inner.full_counts.reset(crate::stats::FULL_COUNT_KEPT);
    }

    /// How many live images match `filter`, counted up to `cap` (for a
    /// tag or property, its rows of live images). A count that found any
    /// is remembered for a few seconds, whatever its cap: of what
    /// [`Database::list_plan`] decides from such a count only an empty
    /// answer (a count of none, never kept) says what a page holds. The
    /// rest chooses how the page is read, each way right for any number of
    /// matching images: checked along the list's order, or started from
    /// the filter's ids, which are read afresh (and which decide an empty
    /// answer or a filter matching many themselves). At 100,000 images on
    /// MariaDB, counting the 3,910 queued images took 2 ms each time, a
    /// tag's or property's rows 0.5 ms.
    async fn count_filter(&self, filter: &Filter, cap: u64) -> Result<u64, DbError> {
        self.count_kept(matching_rows(self.dialect(), filter, cap), cap, Kept::Found)
            .await
    }

    async fn count_visibility(&self, visibility: Visibility, cap: u64) -> Result<u64, DbError> {
        let cond = Cond::all().add(img("visibility").eq(visibility.as_str()));
        let order = [img("created_at"), img("id")];
        let mut rows = live_ids(cond, &order, cap);
        rows.force_index("ix_images_live_visibility", IndexHintScope::All);
        self.count_rows(rows, cap).await
    }

    /// The ids of up to `cap` live images matching `filter`.
    async fn filter_ids(&self, filter: &Filter, cap: u64) -> Result<Vec<String>, DbError> {
        self.read_index_rows(&matching_rows(self.dialect(), filter, cap), text_from_row)
            .await
    }

    /// How many rows `rows` (a query limited to `cap` rows) returns. A
    /// count of more than one row that reached `cap` is remembered for a
    /// few seconds and not made again meanwhile (see
    /// [`crate::stats::FullCounts`]).
    async fn count_rows(&self, rows: SelectStatement, cap: u64) -> Result<u64, DbError> {
        self.count_kept(rows, cap, Kept::Full).await
    }

    /// [`Database::count_rows`], remembering the count whatever it found:
    /// only for counts that choose how a page is read, never what it holds.
    async fn count_rows_any(&self, rows: SelectStatement, cap: u64) -> Result<u64, DbError> {
        self.count_kept(rows, cap, Kept::Any).await
    }

    async fn count_kept(
        &self,
        rows: SelectStatement,
        cap: u64,
        kept: Kept,
    ) -> Result<u64, DbError> {
        let count = Query::select()
            .expr(Expr::cust("COUNT(*)"))
            .from_subquery(rows, "side")
            .take();
        // (Each kind of count is remembered under keys of its own, so that
        // a count kept short never answers one that decides what a page
        // holds.)
        let memo = (cap > 1 || kept == Kept::Found).then(|| {
            let (sql, values) = exec::build(self.dialect(), &count);
            format!("{kept:?} {sql} {values:?}")
        });
        if let Some(rows) = memo
            .as_deref()
            .and_then(|key| self.inner.full_counts.get(key))
        {
            return Ok(rows);
        }
        let found = self.read_index_rows(&count, int_from_row).await?;
        let rows = found.into_iter().next().flatten().unwrap_or(0);
        let rows = u64::try_from(rows).unwrap_or(0);
        let keep = match kept {
            Kept::Full => rows >= cap,
            Kept::Found => rows > 0,
            Kept::Any => true,
        };
        if let (Some(key), true) = (memo, keep) {
            self.inner.full_counts.note(key, rows);
        }
        Ok(rows)
    }
}

/// Which counts [`Database::count_kept`] remembers (see
/// [`crate::stats::FullCounts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kept {
    /// Those of more than one row that reached their cap.
    Full,
    /// Those that found a row or more.
    Found,
    /// Every one.
    Any,
}

/// The ids of up to `cap` images matching `filter`, read along the
/// filter's own index: for a column, live images, ordered as the index is
/// (or a planner misled by statistics that count deleted rows, as on a
/// `created_at` range, scans the table rather than the index); for a tag
/// or property, the live images its rows name (see [`live_side_rows`]).
fn matching_rows(dialect: Dialect, filter: &Filter, cap: u64) -> SelectStatement {
    match side_query(dialect, filter) {
        Some((table, mut rows)) => {
            live_side_rows(table, &mut rows);
            if table == TAGS {
                // (Not by the value, held equal: see `filter_index`.)
                rows.order_by((TAGS, "created_at"), Order::Asc)
                    .order_by((TAGS, "image_id"), Order::Asc);
            }
            rows.limit(cap).take()
        }
        None => {
            let cond = filter_condition(dialect, filter, FilterForm::Drive);
            let Some((index, order)) = filter_index(filter) else {
                return live_ids(cond, &[], cap);
            };
            // Named for MariaDB, which otherwise walked the order's index
            // and read each row's filtered column from the table.
            let mut rows = live_ids(cond, &order, cap);
            rows.force_index(index, IndexHintScope::All);
            rows
        }
    }
}

/// Keeps a tag's or property's rows to those of live images, which alone
/// carry their image's creation time (schema versions 11 and 17). The
/// rows of deleted images stay until the purge; counted with the others,
/// a tag on 10,000 of a million live images counted as 20,000, enough for
/// its list to walk the order unbounded (3.3 s where those images come
/// last), and a list started from the tag read them all. (Not for a
/// filter probed along the walk: the image checked is live, and its
/// lookup is by image id.)
fn live_side_rows(table: &'static str, rows: &mut SelectStatement) {
    rows.and_where(Expr::col((table, "created_at")).is_not_null());
}

/// `SELECT id FROM images WHERE deleted = 0 AND cond ORDER BY order LIMIT
/// cap`.
fn live_ids(cond: Cond, order: &[Expr], cap: u64) -> SelectStatement {
    let mut query = Query::select()
        .column((IMAGES, "id"))
        .from(IMAGES)
        .cond_where(
            Cond::all()
                .add(img("deleted").eq(Expr::cust("0")))
                .add(cond),
        )
        .limit(cap)
        .take();
    for column in order {
        query.order_by_expr(column.clone(), Order::Asc);
    }
    query
}

/// The index a column filter is read through (by its MySQL/MariaDB name,
/// see migrations/mysql) and its columns after `deleted`, in order; none
/// where no index serves it. A leading column held equal to one value is
/// left out of the order: MariaDB no longer counted it as constant and
/// sorted every matching row to order by it (a count up to 5,000 of 200,000
/// images took 0.9 s rather than 4 ms).
fn filter_index(filter: &Filter) -> Option<(&'static str, Vec<Expr>)> {
    let (index, lead) = match filter {
        Filter::Text { column, values } => {
            let index = match text_column_indexed(*column, values) {
                "sort_name" => "ix_images_live_name",
                "status" => "ix_images_live_status",
                "owner" => "ix_images_live_owner",
                "visibility" => "ix_images_live_visibility",
                "sort_disk_format" => "ix_images_live_disk_format",
                "sort_container_format" => "ix_images_live_container_format",
                _ => return None,
            };
            if values.len() == 1 {
                return Some((index, vec![img("created_at"), img("id")]));
            }
            (index, text_column_indexed(*column, values))
        }
        Filter::Time {
            column: TimeColumn::CreatedAt,
            ..
        } => {
            let index = mysql_order_index(SortKey::CreatedAt);
            return Some((index, vec![img("created_at"), img("id")]));
        }
        Filter::Time {
            column: TimeColumn::UpdatedAt,
            ..
        } => (mysql_order_index(SortKey::UpdatedAt), "updated_at"),
        Filter::Number {
            column: NumColumn::Size,
            op,
            value,
        } if *op != CmpOp::Neq && *value >= 0 => (mysql_order_index(SortKey::Size), "sort_size"),
        _ => return None,
    };
    Some((index, vec![img(lead), img("created_at"), img("id")]))
}

/// The form of a filter on a column of the images table matching `rows`
/// (counted up to `few`), when its index does or does not give the list's
/// order.
fn count_form(rows: u64, few: u64, serves_order: bool) -> FilterForm {
    match rows {
        0 => FilterForm::Empty,
        n if n < few || serves_order => FilterForm::Drive,
        _ => FilterForm::Probe,
    }
}

/// The sort key whose index starts with the column `filter` is on, for
/// filters an index can serve.
fn indexed_order(filter: &Filter) -> Option<SortKey> {
    match filter {
        Filter::Text { column, .. } => match column {
            TextColumn::Name => Some(SortKey::Name),
            TextColumn::Status => Some(SortKey::Status),
            TextColumn::DiskFormat => Some(SortKey::DiskFormat),
            TextColumn::ContainerFormat => Some(SortKey::ContainerFormat),
            // Owner's index is (owner, created_at, id): no sort key of its
            // own, and the default order.
            TextColumn::Owner => Some(SortKey::CreatedAt),
            TextColumn::Id | TextColumn::Checksum | TextColumn::OsHashAlgo => None,
            TextColumn::OsHashValue => None,
        },
        Filter::Time { column, op, .. } if *op != CmpOp::Neq => Some(match column {
            TimeColumn::CreatedAt => SortKey::CreatedAt,
            TimeColumn::UpdatedAt => SortKey::UpdatedAt,
        }),
        Filter::Number {
            column: NumColumn::Size,
            op,
            ..
        } if *op != CmpOp::Neq => Some(SortKey::Size),
        _ => None,
    }
}

/// One value of a column whose index is (column, created_at, id): read in
/// the default order as it stands.
fn single_value_with_created_index(filter: &Filter) -> bool {
    matches!(filter, Filter::Text { column, values } if values.len() == 1
        && *column != TextColumn::Id
        && indexed_order(filter).is_some())
}

/// The index shaped (filter column, `key`, created_at, id) that gives the
/// order led by `key` within one value of `filter`'s column, by its
/// MySQL/MariaDB name (see migrations 12, 14 and 16): for the pairs whose rows
/// lie far apart in the order of `key` alone.
fn pair_index(filter: &Filter, key: SortKey) -> Option<&'static str> {
    let Filter::Text { column, values } = filter else {
        return None;
    };
    if values.len() != 1 {
        return None;
    }
    PAIR_INDEXES
        .iter()
        .find(|(filtered, sorted, _)| {
            *filtered == text_column_indexed(*column, values) && *sorted == sort_column(key).0
        })
        .map(|(_, _, index)| *index)
}

/// The indexes shaped (filter column, sort key, created_at, id), by their
/// MySQL/MariaDB names (migrations 12, 14 and 16).
const PAIR_INDEXES: [(&str, &str, &str); 8] = [
    ("status", "sort_size", "ix_images_live_status_size"),
    ("status", "sort_name", "ix_images_live_status_name"),
    (
        "status",
        "sort_disk_format",
        "ix_images_live_status_disk_format",
    ),
    (
        "status",
        "sort_container_format",
        "ix_images_live_status_container_format",
    ),
    (
        "sort_disk_format",
        "sort_size",
        "ix_images_live_disk_format_size",
    ),
    (
        "sort_container_format",
        "sort_size",
        "ix_images_live_container_format_size",
    ),
    (
        "sort_disk_format",
        "sort_container_format",
        "ix_images_live_disk_format_container_format",
    ),
    (
        "sort_container_format",
        "sort_disk_format",
        "ix_images_live_container_format_disk_format",
    ),
];

/// The images without data by sort key `key`, where its index sets them
/// apart (see [`Database::skips_no_data`]).
fn no_data(key: SortKey) -> Option<Expr> {
    match key {
        SortKey::DiskFormat | SortKey::ContainerFormat => Some(sort_expr(key).eq("")),
        SortKey::Size => Some(sort_expr(key).eq(-1)),
        SortKey::Status => Some(sort_expr(key).eq(ImageStatus::Queued.as_str())),
        _ => None,
    }
}

/// The live images that have data, as a condition the index of `key`
/// reads from (one range, or by status every other status in turn: an
/// `IN` on an index's first column is read in the index's order).
fn past_no_data(key: SortKey) -> Option<Expr> {
    match key {
        SortKey::DiskFormat | SortKey::ContainerFormat => Some(sort_expr(key).gt("")),
        SortKey::Size => Some(sort_expr(key).gte(0)),
        SortKey::Status => Some(
            sort_expr(key).is_in(
                ImageStatus::ALL
                    .into_iter()
                    .filter(|s| !matches!(s, ImageStatus::Queued | ImageStatus::Killed))
                    .map(ImageStatus::as_str),
            ),
        ),
        _ => None,
    }
}

/// The condition that skips the images without data, where the plan
/// does (see [`Database::skips_no_data`]).
fn skip_to_data(plan: &ListPlan, sort: &[(SortKey, SortDir)]) -> Option<Expr> {
    match (plan.skip_no_data, sort.first()) {
        (true, Some((key, _))) => past_no_data(*key),
        _ => None,
    }
}

/// The indexed column a filter compares as its index reads it: a text
/// filter on one (see [`text_column_indexed`]), or a size compared on
/// `sort_size` (see [`number_condition`]).
fn filter_column(filter: &Filter) -> Option<&'static str> {
    match filter {
        Filter::Text { column, values } if !values.is_empty() => {
            Some(text_column_indexed(*column, values))
        }
        Filter::Number {
            column: NumColumn::Size,
            op,
            value,
        } if *op != CmpOp::Neq && *value >= 0 => Some("sort_size"),
        _ => None,
    }
}

/// The pair index that leads with the two columns, in either order (see
/// [`PAIR_INDEXES`]).
fn pair_with(a: &str, b: &str) -> Option<&'static str> {
    PAIR_INDEXES
        .iter()
        .find(|(x, y, _)| (*x == a && *y == b) || (*x == b && *y == a))
        .map(|(_, _, index)| *index)
}

/// The pair index (see [`pair_index`]) of a filter that starts the list
/// and whose index gives its order, where the list is read along it.
fn ordering_pair_index(q: &ImageListQuery, plan: &ListPlan) -> Option<&'static str> {
    let &(key, _) = q.sort.first()?;
    if plan.order_unindexed || plan.shared_from_project || q.os_hidden {
        return None;
    }
    q.filters
        .iter()
        .zip(&plan.filters)
        .filter(|(_, form)| **form == FilterForm::Drive)
        .find_map(|(filter, _)| pair_index(filter, key))
}

/// Up to this many rows matching a filter, the list starts from them and
/// sorts them; from it on, the list walks its order's index and checks
/// the filter on each row. Collecting this many rows, or walking until a
/// page is full when about this many of a million images match, each
/// take milliseconds.
pub(crate) const FEW_ROWS: u64 = 5000;

/// From this many rows matching each filter checked along the list's
/// order, the walk is not bounded: starting from the filters would cost
/// more than walking on.
const DRIVE_ROWS: u64 = 4 * FEW_ROWS;

/// How a list filter is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum FilterForm {
    /// So that its index can start the query: an indexed column compared
    /// plainly, `images.id IN (SELECT image_id FROM …)` for a tag or
    /// property (uncorrelated: the planner can start from the matching
    /// rows and look images up by key).
    #[default]
    Drive,
    /// Checked on each image met while the list's index is walked in
    /// order: one opaque term no index serves ([`unsplit`]), around
    /// `EXISTS (SELECT 1 FROM … WHERE image_id = images.id …)` for a tag
    /// or property. For filters that match many images.
    Probe,
    /// Matches no row: the list is empty without asking further (written
    /// as [`FilterForm::Drive`] if asked).
    Empty,
    /// A tag or property, in an order whose first key is not the id: the
    /// list joins its rows and walks their index for that key, which holds
    /// the images' creation times (schema versions 11 and 17) and copies
    /// of their other sort keys (version 18), in order, so that only
    /// images with the tag or property are read (see [`leads_in_order`];
    /// further keys, run by run, see [`Database::page_by_runs`]).
    Leads,
    /// Matches few rows, the fewest of the request's filters: written as
    /// `images.id IN (<their ids>)`, read first through the filter's own
    /// index. Planners cannot misjudge a list of keys (PostgreSQL took a
    /// `created_at` range matching 50 live images for one matching
    /// thousands, its statistics counting deleted rows, and read the
    /// table whole).
    Listed,
}

/// The forms of a list request's filters, in the order of its `filters`,
/// and of its `visibility` parameter.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListPlan {
    pub(crate) filters: Vec<FilterForm>,
    pub(crate) visibility: FilterForm,
    /// `visibility=shared` for a regular user whose project owns and is a
    /// member of few images: the list starts from those (see
    /// [`shared_with`]) rather than walking every project's shared images.
    pub(crate) shared_from_project: bool,
    /// On MySQL/MariaDB, in place of `shared_from_project`: the ids of
    /// the shared images the project owns or is a member of (with the
    /// requested member status), read first when fewer than [`FEW_ROWS`].
    pub(crate) shared_ids: Vec<String>,
    /// The list is sorted on expressions no index serves, so that the
    /// planner starts from a filter matching few rows rather than walk the
    /// order's index past everything the filter leaves out.
    pub(crate) order_unindexed: bool,
    /// Where a walk along the list's order stops (see
    /// [`Database::list_images`]).
    pub(crate) walk_until: Option<Image>,
    /// The ids of the [`FilterForm::Listed`] filter's images.
    pub(crate) ids: Vec<String>,
    /// How many images the fewest-matching filter checked along the walk
    /// matches, when under [`DRIVE_ROWS`]: the walk is bounded then.
    pub(crate) probed_rows: Option<u64>,
    /// The walk along the order skips the images without data (see
    /// [`Database::skips_no_data`]): a filter checked along it matches
    /// none of them.
    pub(crate) skip_no_data: bool,
}

impl ListPlan {
    /// Whether a filter is checked along the list's order.
    fn walks(&self) -> bool {
        !self.order_unindexed
            && !self.filters.contains(&FilterForm::Leads)
            && (self.visibility == FilterForm::Probe || self.filters.contains(&FilterForm::Probe))
    }

    /// Every filter written so that the list can start from it.
    fn driven(self) -> ListPlan {
        let drive = |form| match form {
            FilterForm::Probe => FilterForm::Drive,
            other => other,
        };
        ListPlan {
            filters: self.filters.into_iter().map(drive).collect(),
            visibility: drive(self.visibility),
            shared_from_project: self.shared_from_project,
            shared_ids: self.shared_ids,
            order_unindexed: true,
            walk_until: None,
            ids: self.ids,
            probed_rows: None,
            skip_no_data: false,
        }
    }

    fn matches_nothing(&self) -> bool {
        self.visibility == FilterForm::Empty || self.filters.contains(&FilterForm::Empty)
    }

    fn filter(&self, i: usize) -> FilterForm {
        self.filters.get(i).copied().unwrap_or_default()
    }
}

fn img(column: &'static str) -> Expr {
    Expr::col((IMAGES, column))
}

pub(crate) fn list_query(
    dialect: Dialect,
    q: &ImageListQuery,
    plan: &ListPlan,
    limit: u64,
    marker: Option<&Image>,
    viewer: &Viewer,
) -> SelectStatement {
    // Deleted covers both deleted and pending_delete images. Literals, not
    // parameters: the partial indexes are for `deleted = 0` (and hidden
    // images), and a planner can only use them when the query says so.
    let mut cond = Cond::all()
        .add(img("deleted").eq(Expr::cust("0")))
        .add(img("status").ne("killed"))
        .add(img("os_hidden").eq(literal_flag(q.os_hidden)))
        .add(visible_to(dialect, q, plan, viewer));
    let side_leads = plan.filters.contains(&FilterForm::Leads);
    for (i, filter) in q.filters.iter().enumerate() {
        let form = plan.filter(i);
        if form == FilterForm::Leads {
            // The join below says it.
            continue;
        }
        let side = matches!(filter, Filter::Tag(_) | Filter::Property { .. });
        cond = cond.add(match form {
            // Behind a leading tag, on PostgreSQL, a tag or property is
            // checked as a plain `EXISTS`, whose share of rows it
            // estimates: as an opaque term, guessed to pass a third, two
            // of them made the member's checks look like leaving fewer
            // rows than a page, and it sorted all the tag's rows rather
            // than walk them (45 ms against 1.7 ms at 200,000 images).
            FilterForm::Probe if side_leads && side && dialect == Dialect::Postgres => {
                filter_condition(dialect, filter, FilterForm::Probe)
            }
            FilterForm::Probe => probed_condition(dialect, filter),
            FilterForm::Listed => {
                Cond::all().add(img("id").is_in(plan.ids.iter().map(String::as_str)))
            }
            _ => filter_condition(dialect, filter, form),
        });
    }
    let sort = significant_keys(&q.sort);
    let leading = q
        .filters
        .iter()
        .zip(&plan.filters)
        .find(|(_, form)| **form == FilterForm::Leads)
        .and_then(|(filter, _)| {
            leading_rows(dialect, filter, sort.first().map(|(key, _)| *key), true)
        });
    let mut query = select_images();
    if let Some((table, rows)) = leading {
        // The tag's or property's rows, in their index's order (value,
        // sort key, created_at, image_id), lead: their sort keys, creation
        // time and image id are the image's, so ordering and paging on
        // them is the list's order.
        query.inner_join(table, Expr::col((table, "image_id")).equals((IMAGES, "id")));
        cond = cond
            .add(rows)
            .add(Expr::col((table, "created_at")).is_not_null());
        if let Some((key, _)) = sort.first().filter(|(key, _)| has_copy(*key)) {
            // (The rows of deleted images hold no copy. MariaDB's indexes
            // keep them, first in each value's stretch.)
            cond = cond.add(side_sort_expr(table, *key).is_not_null());
        }
        let side_sort = |key| side_sort_expr(table, key);
        if let Some(marker) = marker {
            // PostgreSQL read each branch of the marker's `OR` through the
            // index as a bitmap, expected a row or two, and sorted every
            // row of the property (10 ms for 2,000 at 200,000 images):
            // opaque, the bound on the first key is the index range,
            // walked in order.
            let opaque = dialect == Dialect::Postgres;
            cond = cond.add(after_marker_on(sort, marker, side_sort, opaque));
        }
        query.cond_where(cond).limit(limit);
        order_by(&mut query, sort, side_sort);
        if dialect == Dialect::MySql && images_by_key(q, plan) {
            query.force_index("PRIMARY", IndexHintScope::All);
        }
        return query;
    }
    if let Some(marker) = marker {
        cond = cond.add(after_marker(sort, marker));
    }
    if let Some(end) = &plan.walk_until {
        cond = cond.add(up_to(sort, end));
    }
    if let Some(past) = skip_to_data(plan, sort) {
        cond = cond.add(past);
    }
    query.cond_where(cond).limit(limit);
    let pair = ordering_pair_index(q, plan);
    if dialect == Dialect::MySql && images_by_key(q, plan) {
        query.force_index("PRIMARY", IndexHintScope::All);
    } else if let (Dialect::MySql, Some(index)) = (dialect, pair) {
        // MariaDB cannot tell that the filter's rows lie far apart along
        // the sort key's own index, and walked that.
        query.force_index(index, IndexHintScope::All);
    } else if dialect == Dialect::MySql
        && (marker.is_some() || plan.skip_no_data)
        && walks_the_order(q, plan)
    {
        // MariaDB read the order's index from its `deleted = 0` prefix (a
        // `ref`) rather than from the marker (a `range` on the same index,
        // which it costs the same), walking every row before the marker:
        // seconds for a deep page. Likewise past the images without data
        // (`size_min=1&sort_key=status` 0.8 s at 200,000 images, 3 ms when
        // told). (Without either it chooses well, and forcing the order's
        // index there made it walk past rows another index would have
        // skipped.)
        if let Some((key, _)) = sort.first() {
            query.force_index(mysql_order_index(*key), IndexHintScope::All);
        }
    }
    if plan.order_unindexed {
        order_by(&mut query, sort, |key| {
            let (column, kind) = sort_column(key);
            unindexed(dialect, column, kind)
        });
    } else {
        order_by(&mut query, sort, sort_expr);
    }
    query
}

/// Whether a page under `plan` reaches images only by their key: a list
/// of ids or a leading tag's or property's rows start it, and no other
/// filter could (each is checked on the rows met). On MySQL/MariaDB the
/// page's statement then names the primary key as its only index: left to
/// choose, MariaDB weighed every index of `images` against the statement's
/// conditions before taking the key anyway, 2.8 ms of planning against
/// 0.4 for a member's page of 100 shared images, 0.8–1.2 against 0.4–0.6
/// for a tag's or property's page at 100,000 images.
fn images_by_key(q: &ImageListQuery, plan: &ListPlan) -> bool {
    let by_ids = plan.filters.contains(&FilterForm::Listed) || !plan.shared_ids.is_empty();
    let by_side = plan.filters.contains(&FilterForm::Leads);
    let others_checked = plan.filters.iter().all(|form| {
        matches!(
            form,
            FilterForm::Listed | FilterForm::Leads | FilterForm::Probe
        )
    });
    let visibility_checked = match q.visibility {
        Some(VisibilityFilter::Only(_)) => {
            plan.visibility == FilterForm::Probe || !plan.shared_ids.is_empty()
        }
        _ => true,
    };
    (by_ids || by_side)
        && others_checked
        && visibility_checked
        && !plan.shared_from_project
        && !q.os_hidden
}

/// Whether the page is read along the index of its first sort key: no
/// filter starts it from an index of its own.
fn walks_the_order(q: &ImageListQuery, plan: &ListPlan) -> bool {
    let filters_probed = plan.filters.iter().all(|form| *form == FilterForm::Probe);
    let visibility_probed = match q.visibility {
        Some(VisibilityFilter::Only(_)) => plan.visibility == FilterForm::Probe,
        _ => true,
    };
    !plan.order_unindexed
        && !plan.shared_from_project
        && !q.os_hidden
        && filters_probed
        && visibility_probed
}

/// Whether an index gives `sort` (significant keys) as it stands: one key
/// followed by the `created_at` and `id` tie-breakers in its direction,
/// as every order index is shaped.
fn index_gives_order(sort: &[(SortKey, SortDir)]) -> bool {
    let Some(&(first, dir)) = sort.first() else {
        return true;
    };
    if first == SortKey::Id {
        return true;
    }
    let ties = [SortKey::CreatedAt, SortKey::Id]
        .into_iter()
        .filter(|tie| *tie != first);
    sort.len() == 1 + ties.clone().count()
        && sort[1..]
            .iter()
            .zip(ties)
            .all(|(&(key, d), tie)| key == tie && d == dir)
}

/// `q` in the order of its first sort key alone, then the tie-breakers in
/// that key's direction: the order that key's index gives.
fn along_first_key(q: &ImageListQuery, key: SortKey, dir: SortDir) -> ImageListQuery {
    let mut along = q.clone();
    along.sort = vec![(key, dir)];
    for tie in [SortKey::CreatedAt, SortKey::Id] {
        if key != tie {
            along.sort.push((tie, dir));
        }
    }
    along
}

/// The MySQL/MariaDB index that gives the order of `key` (see
/// migrations/mysql).
fn mysql_order_index(key: SortKey) -> &'static str {
    match key {
        SortKey::CreatedAt => "ix_images_created_id",
        SortKey::UpdatedAt => "ix_images_live_updated",
        SortKey::Name => "ix_images_live_name",
        SortKey::Status => "ix_images_live_status",
        SortKey::ContainerFormat => "ix_images_live_container_format",
        SortKey::DiskFormat => "ix_images_live_disk_format",
        SortKey::Size => "ix_images_live_size",
        SortKey::Id => "ix_images_live_id",
    }
}

/// `ORDER BY` the sort keys, each as `expr` writes it.
fn order_by(
    query: &mut SelectStatement,
    sort: &[(SortKey, SortDir)],
    expr: impl Fn(SortKey) -> Expr,
) {
    for (key, dir) in sort {
        let order = match dir {
            SortDir::Asc => Order::Asc,
            SortDir::Desc => Order::Desc,
        };
        query.order_by_expr(expr(*key), order);
    }
}

/// How many rows of the list's order a walk checks for a page of `limit`,
/// when the filters it checks match `matching` images, before the list
/// starts from those instead: a hundred per row of the page (a filter
/// matching one image in a hundred along the way fills it), and more while
/// walking costs less than starting from the matching images would.
fn walk_rows(limit: u64, matching: u64) -> u64 {
    let rows = Ord::max(
        limit.saturating_mul(100),
        matching.saturating_mul(WALK_PER_MATCH),
    );
    Ord::max(rows, 1000)
}

/// Rows of a walk that cost about what starting from one matching row and
/// sorting it does.
const WALK_PER_MATCH: u64 = 5;

/// The images `viewer` may list with `q`'s `visibility` and
/// `member_status` parameters.
fn visible_to(dialect: Dialect, q: &ImageListQuery, plan: &ListPlan, viewer: &Viewer) -> Cond {
    let mut cond = Cond::all();
    if !viewer.is_admin {
        cond = cond.add(unsplit_passing_most(candidates(q.member_status, viewer)));
        if let (true, Some(project)) = (plan.shared_from_project, viewer.project_id.as_deref()) {
            let shared = shared_with(dialect, project, q.member_status);
            cond = cond.add(img("id").in_subquery(shared));
        }
        if !plan.shared_ids.is_empty() {
            cond = cond.add(img("id").is_in(plan.shared_ids.iter().map(String::as_str)));
        }
        // Of a regular user's candidates, only their own images can be
        // private: said outright, the planner reads the owner's index
        // rather than walking every private image of every project.
        if let (Some(VisibilityFilter::Only(Visibility::Private)), Some(project)) =
            (q.visibility, viewer.project_id.as_deref())
        {
            cond = cond.add(img("owner").eq(project));
        }
    }
    if let Some(visible) = visibility_condition(q.visibility, plan.visibility, viewer) {
        // One visibility is an equality an index can serve as written.
        // The default's OR PostgreSQL does not split (one branch is a
        // `<>`), and estimates better than the opaque form.
        let one = matches!(q.visibility, Some(VisibilityFilter::Only(_)));
        cond = cond.add(match dialect {
            Dialect::Postgres => visible,
            _ if one => visible,
            _ => unsplit(visible),
        });
    }
    cond
}

/// The sort keys up to the first unique one (`id`): keys after it never
/// decide an order, and leaving them out lets the primary key serve
/// `sort_key=id`.
fn significant_keys(sort: &[(SortKey, SortDir)]) -> &[(SortKey, SortDir)] {
    match sort.iter().position(|(key, _)| *key == SortKey::Id) {
        Some(i) => &sort[..=i],
        None => sort,
    }
}

/// A flag as a literal rather than a parameter, for partial indexes.
fn literal_flag(value: bool) -> Expr {
    Expr::cust(if value { "1" } else { "0" })
}

/// `cond` as one opaque term (`CASE WHEN cond THEN 1 ELSE 0 END > 0`):
/// planners split an OR of indexed terms into one index lookup per branch
/// and then sort everything the branches found, which for a regular user
/// means every public image. Unsplit, the visibility rules filter a walk
/// of the index in list order, and a page stops after its rows. (`> 0`
/// rather than `= 1`: PostgreSQL guesses a third of the rows pass an
/// inequality it cannot estimate, a two-hundredth an equality, and would
/// then sort the few it expects rather than walk.)
fn unsplit(cond: Cond) -> Cond {
    Cond::all().add(opaque(cond).gt(Expr::cust("0")))
}

/// `cond` unsplit as [`unsplit`] does, written `<> 0`: PostgreSQL then
/// expects nearly every row to pass it. For a regular user's visibility
/// rules: as a third, a tag's run of a thousand rows looked like fewer
/// than a page to PostgreSQL, which sorted all of them (15 ms) rather than
/// walk the order's index to the page's end (4 ms).
fn unsplit_passing_most(cond: Cond) -> Cond {
    Cond::all().add(opaque(cond).ne(Expr::cust("0")))
}

/// `CASE WHEN cond THEN 1 ELSE 0 END`.
fn opaque(cond: Cond) -> Expr {
    Expr::case(cond, Expr::cust("1"))
        .finally(Expr::cust("0"))
        .into()
}

/// What a regular user may see at all: public and community images, their
/// project's images, and shared images their project is a member of (with
/// the requested member status).
fn candidates(member_status: MemberStatusFilter, viewer: &Viewer) -> Cond {
    let mut any = Cond::any().add(img("visibility").is_in(["public", "community"]));
    if let Some(project) = viewer.project_id.as_deref() {
        let mut membership = membership_rows(project, member_status);
        membership
            .expr(Expr::cust("1"))
            .and_where(Expr::col((MEMBERS, "image_id")).equals((IMAGES, "id")));
        any = any.add(img("owner").eq(project)).add(
            Cond::all()
                .add(img("visibility").eq("shared"))
                .add(Expr::exists(membership)),
        );
    }
    any
}

/// The ids of the shared images `project` owns or is a member of (with
/// the requested member status): the images `visibility=shared` can list
/// for a regular user, found from the project's side.
fn shared_with(
    dialect: Dialect,
    project: &str,
    member_status: MemberStatusFilter,
) -> SelectStatement {
    let mut members = membership_rows(project, member_status);
    members.column((MEMBERS, "image_id"));
    let mut owned = Query::select()
        .column((IMAGES, "id"))
        .from(IMAGES)
        .and_where(img("owner").eq(project))
        .and_where(img("deleted").eq(Expr::cust("0")))
        // Read through the owner's index, not every shared image's.
        .and_where(unindexed(dialect, "visibility", Kind::Text).eq("shared"))
        .take();
    owned.union(UnionType::All, members);
    owned
}

/// The live member rows of `project`, with the requested status.
fn membership_rows(project: &str, member_status: MemberStatusFilter) -> SelectStatement {
    let mut rows = Query::select()
        .from(MEMBERS)
        .and_where(Expr::col((MEMBERS, "member")).eq(project))
        .and_where(Expr::col((MEMBERS, "deleted")).eq(flag(false)))
        .take();
    if let MemberStatusFilter::Only(status) = member_status {
        rows.and_where(Expr::col((MEMBERS, "status")).eq(status.as_str()));
    }
    rows
}

/// The `visibility` parameter; without one, community images are listed
/// only to their owner (Glance's rule, for admins too).
fn visibility_condition(
    visibility: Option<VisibilityFilter>,
    form: FilterForm,
    viewer: &Viewer,
) -> Option<Cond> {
    match visibility {
        Some(VisibilityFilter::Only(v)) => {
            let equal = Cond::all().add(img("visibility").eq(v.as_str()));
            Some(match form {
                FilterForm::Probe => unsplit(equal),
                _ => equal,
            })
        }
        Some(VisibilityFilter::All) => None,
        None => {
            let not_community = img("visibility").ne("community");
            Some(match viewer.project_id.as_deref() {
                Some(project) => Cond::any().add(img("owner").eq(project)).add(not_community),
                None => Cond::all().add(not_community),
            })
        }
    }
}

/// `filter` as a condition, written in `form` (a probed column filter is
/// [`probed_condition`]).
fn filter_condition(dialect: Dialect, filter: &Filter, form: FilterForm) -> Cond {
    let cond = Cond::all();
    match filter {
        Filter::Text { values, .. } if values.is_empty() => {
            // `IN ()` is not valid SQL; an empty list matches nothing.
            cond.add(Expr::cust("1 = 0"))
        }
        Filter::Text { column, values } => {
            cond.add(text_expr(*column, values).is_in(values.iter().map(String::as_str)))
        }
        Filter::Number { column, op, value } => cond.add(number_condition(*column, *op, *value)),
        Filter::Bool {
            column: BoolColumn::Protected,
            value,
        } => cond.add(img("protected").eq(literal_flag(*value))),
        Filter::Time { column, op, at } => {
            cond.add(compare(img(time_column(*column)), *op, to_micros(*at)))
        }
        Filter::Property { .. } | Filter::Tag(_) => match side_query(dialect, filter) {
            Some((table, rows)) => cond.add(side_condition(form, table, rows)),
            None => cond,
        },
    }
}

/// The table of a tag or property filter and its
/// `SELECT image_id FROM … WHERE …`. On MySQL/MariaDB a property value of
/// up to 255 characters is compared on `short_value`, whose index holds it
/// whole (schema version 13): the rows are then found from the index
/// alone.
fn side_query(dialect: Dialect, filter: &Filter) -> Option<(&'static str, SelectStatement)> {
    let (table, equal) = side_equalities(dialect, filter)?;
    Some((table, side_rows(table, equal)))
}

/// The table of a tag or property filter and the columns its rows hold
/// equal to the filter's values.
fn side_equalities(
    dialect: Dialect,
    filter: &Filter,
) -> Option<(&'static str, Vec<(&'static str, &str)>)> {
    match filter {
        Filter::Property { name, value } => {
            let column = if dialect == Dialect::MySql && value.chars().count() <= 255 {
                "short_value"
            } else {
                "value"
            };
            Some((PROPERTIES, vec![("name", name), (column, value)]))
        }
        Filter::Tag(tag) => Some((TAGS, vec![("value", tag)])),
        _ => None,
    }
}

/// `filter` checked on each row the list's own index brings: as one
/// opaque term (see [`unsplit`]), which no index serves and which planners
/// expect a third of the rows to pass, so that they walk the order's index
/// rather than start from the filter's.
fn probed_condition(dialect: Dialect, filter: &Filter) -> Cond {
    unsplit(filter_condition(dialect, filter, FilterForm::Probe))
}

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Text,
    Integer,
}

/// The column as an expression no index serves: SQLite's unary `+`,
/// elsewhere a no-op computation on it.
pub(crate) fn unindexed(dialect: Dialect, column: &'static str, kind: Kind) -> Expr {
    // The builders' placeholder for the column: `$1` on PostgreSQL, `?`
    // on the others.
    let col = img(column);
    match (dialect, kind) {
        (Dialect::Sqlite, _) => Expr::cust_with_expr("+?", col),
        (Dialect::MySql, Kind::Text) => Expr::cust_with_expr("CONCAT(?, '')", col),
        (Dialect::MySql, Kind::Integer) => Expr::cust_with_expr("(? + 0)", col),
        (Dialect::Postgres, Kind::Text) => Expr::cust_with_expr("CONCAT($1, '')", col),
        (Dialect::Postgres, Kind::Integer) => Expr::cust_with_expr("($1 + 0)", col),
    }
}

/// The column a text filter compares: the indexed `sort_*` column (its
/// value with NULL as '') where the filter cannot match an empty value,
/// which the two forms would tell apart.
fn text_column_indexed(column: TextColumn, values: &[String]) -> &'static str {
    let empty = values.iter().any(String::is_empty);
    match column {
        TextColumn::Name if !empty => "sort_name",
        TextColumn::DiskFormat if !empty => "sort_disk_format",
        TextColumn::ContainerFormat if !empty => "sort_container_format",
        other => text_column(other),
    }
}

fn text_expr(column: TextColumn, values: &[String]) -> Expr {
    img(text_column_indexed(column, values))
}

/// A size, virtual size or minimum compared with `value`. A size is
/// compared on `sort_size` (indexed; NULL as -1) where that gives the same
/// rows: NULL never satisfies a comparison, -1 never one with a bound of 0
/// or more from below, and bounds from above say `>= 0` too.
fn number_condition(column: NumColumn, op: CmpOp, value: i64) -> Expr {
    if column != NumColumn::Size || op == CmpOp::Neq || value < 0 {
        return compare(img(num_column(column)), op, value);
    }
    let sort = img("sort_size");
    match op {
        CmpOp::Eq | CmpOp::Gt | CmpOp::Gte => compare(sort, op, value),
        _ => compare(sort.clone(), op, value).and(sort.gte(0)),
    }
}

/// The filter on `rows` of `table` (a [`side_rows`] query), written as
/// `form` says.
fn side_condition(form: FilterForm, table: &'static str, mut rows: SelectStatement) -> Expr {
    match form {
        FilterForm::Drive | FilterForm::Empty | FilterForm::Listed | FilterForm::Leads => {
            live_side_rows(table, &mut rows);
            img("id").in_subquery(rows)
        }
        FilterForm::Probe => {
            rows.and_where(Expr::col((table, "image_id")).equals((IMAGES, "id")));
            Expr::exists(rows)
        }
    }
}

/// `SELECT image_id FROM <table> WHERE …`: the rows of a tag or property
/// filter.
fn side_rows(table: &'static str, equal: Vec<(&'static str, &str)>) -> SelectStatement {
    let mut query = Query::select()
        .column((table, "image_id"))
        .from(table)
        .take();
    for (column, value) in equal {
        query.and_where(Expr::col((table, column)).eq(value));
    }
    query
}

fn compare(column: Expr, op: CmpOp, value: i64) -> Expr {
    match op {
        CmpOp::Eq => column.eq(value),
        CmpOp::Neq => column.ne(value),
        CmpOp::Gt => column.gt(value),
        CmpOp::Gte => column.gte(value),
        CmpOp::Lt => column.lt(value),
        CmpOp::Lte => column.lte(value),
    }
}

fn text_column(column: TextColumn) -> &'static str {
    match column {
        TextColumn::Name => "name",
        TextColumn::Id => "id",
        TextColumn::Status => "status",
        TextColumn::ContainerFormat => "container_format",
        TextColumn::DiskFormat => "disk_format",
        TextColumn::Owner => "owner",
        TextColumn::Checksum => "checksum",
        TextColumn::OsHashAlgo => "os_hash_algo",
        TextColumn::OsHashValue => "os_hash_value",
    }
}

fn num_column(column: NumColumn) -> &'static str {
    match column {
        NumColumn::Size => "size",
        NumColumn::VirtualSize => "virtual_size",
        NumColumn::MinRam => "min_ram",
        NumColumn::MinDisk => "min_disk",
    }
}

fn time_column(column: TimeColumn) -> &'static str {
    match column {
        TimeColumn::CreatedAt => "created_at",
        TimeColumn::UpdatedAt => "updated_at",
    }
}

/// Nullable sort columns sort as if NULL were below every value ('' for
/// text, -1 for sizes), identically on every dialect: the generated
/// `sort_*` columns hold those values (and are indexed). The keyset
/// condition uses the same columns, so pages join up exactly.
fn sort_expr(key: SortKey) -> Expr {
    img(sort_column(key).0)
}

/// A sort key on a leading tag's or property's rows (see
/// [`FilterForm::Leads`]): the image id, the creation time, or the copy of
/// another key (schema version 18), named as the images table's column.
fn side_sort_expr(table: &'static str, key: SortKey) -> Expr {
    match key {
        SortKey::Id => Expr::col((table, "image_id")),
        SortKey::CreatedAt => Expr::col((table, "created_at")),
        _ => Expr::col((table, sort_column(key).0)),
    }
}

/// Whether the tag and property rows carry a copy of `key` (see
/// [`crate::rows::SORT_COPIES`]).
fn has_copy(key: SortKey) -> bool {
    !matches!(key, SortKey::Id | SortKey::CreatedAt)
}

/// Whether `filter` can lead a list in `sort` order along its own rows'
/// index (see [`FilterForm::Leads`]): a tag, or a property where an index
/// holds its name and value (on PostgreSQL the value's MD5, see
/// [`leading_rows`]; on MySQL/MariaDB only a value of up to 255
/// characters, through `short_value`), in an order whose first key (any
/// but `id`) one of those indexes gives. After that key the index gives
/// the creation time and id in its direction; any other keys, or
/// tie-breakers in the other direction, are sorted within each run of
/// equal first keys (see [`Database::page_by_runs`]). (By name on
/// MySQL/MariaDB through the MD5 of the property's name and value, see
/// [`leading_rows`].)
fn leads_in_order(dialect: Dialect, filter: &Filter, sort: &[(SortKey, SortDir)]) -> bool {
    let sort = significant_keys(sort);
    if matches!(sort.first(), Some((SortKey::Id, _)) | None) {
        return false;
    }
    match filter {
        Filter::Tag(_) => true,
        Filter::Property { value, .. } => dialect != Dialect::MySql || value.chars().count() <= 255,
        _ => false,
    }
}

/// The filter that leads `q`'s list under `plan` and the table of its
/// rows.
pub(crate) fn leading_filter<'q>(
    dialect: Dialect,
    q: &'q ImageListQuery,
    plan: &ListPlan,
) -> Option<(&'q Filter, &'static str)> {
    let (filter, _) = q
        .filters
        .iter()
        .zip(&plan.filters)
        .find(|(_, form)| **form == FilterForm::Leads)?;
    let (table, _) = leading_rows(dialect, filter, None, false)?;
    Some((filter, table))
}

/// A run of equal first keys of up to this many rows behind a leading tag
/// or property is sorted rather than walked (see [`Database::run_rows`]);
/// in proportion to [`FEW_ROWS`] where a test lowers that. A longer run is
/// sorted too where it is a small part of the tag's rows. Kept near a
/// page: PostgreSQL took 5.5 ms to sort a run of 1,000 rows that was all
/// of a tag's, where the walk along the next key's index read a page of
/// it in 0.3–0.5 ms.
const RUN_SORTED: u64 = 100;

/// The table of a leading tag or property and the condition on its rows.
/// On PostgreSQL a property's index holds the value's MD5 (schema version
/// 17; a B-tree entry cannot hold every value): the rows are read through
/// that, and the value itself compared as one opaque term, which the
/// planner expects a third of the rows to pass. Compared plainly, the
/// planner multiplied the two comparisons' shares as if independent,
/// expected a handful of rows, and sorted them all. On MySQL/MariaDB, where
/// `first` (the order's first key) is the name, the rows are read through
/// the MD5 of the property's name and value (schema version 19). Not
/// `exact`, the comparisons no index holds are left out (the value itself
/// on PostgreSQL; on MySQL/MariaDB by name, the name and value), for
/// counts read from an index alone.
fn leading_rows(
    dialect: Dialect,
    filter: &Filter,
    first: Option<SortKey>,
    exact: bool,
) -> Option<(&'static str, Cond)> {
    let (table, equal) = side_equalities(dialect, filter)?;
    let mut cond = Cond::all();
    if let (Dialect::MySql, Filter::Property { name, value }, Some(SortKey::Name)) =
        (dialect, filter, first)
        && value.chars().count() <= 255
    {
        // The name order's index is on the MD5 of the name and value
        // (schema version 19; see migrations/mysql).
        cond = cond.add(
            Expr::col((table, "name_value_md5")).eq(Expr::cust_with_values(
                "UNHEX(MD5(CONCAT(?, CHAR(0), ?)))",
                [name.as_str(), value.as_str()],
            )),
        );
        if !exact {
            return Some((table, cond));
        }
        // The name and value themselves, as one opaque term: compared
        // plainly, MariaDB read the property's rows through the index of
        // name and value and sorted them (14 ms against 1.5 for 2,000
        // rows at 200,000 images).
        let mut same = Cond::all();
        for (column, value) in equal {
            same = same.add(Expr::col((table, column)).eq(value));
        }
        return Some((table, cond.add(unsplit(same))));
    }
    for (column, value) in equal {
        let equal = Expr::col((table, column)).eq(value);
        cond = match (dialect, table, column) {
            (Dialect::Postgres, PROPERTIES, "value") => {
                let cond = cond.add(Expr::cust_with_exprs(
                    "md5($1) = md5($2)",
                    [Expr::col((table, column)), Expr::val(value)],
                ));
                if exact {
                    cond.add(unsplit(Cond::all().add(equal)))
                } else {
                    cond
                }
            }
            _ => cond.add(equal),
        };
    }
    Some((table, cond))
}

/// `SELECT 1` from the rows of live images of a tag or property, with
/// `run` (its first sort key and a condition on that key's copy) only
/// those of one run, up to `cap` rows: for a count that chooses how to
/// read a run (see [`Database::run_rows`]), written so that an index
/// alone answers it. Not exact (see [`leading_rows`]): on PostgreSQL the
/// value is compared through its MD5, on MySQL/MariaDB by name through
/// the MD5 of the name and value, and a collision would only make the
/// count a little high.
fn side_rows_counted(
    dialect: Dialect,
    filter: &Filter,
    run: Option<(SortKey, Expr)>,
    cap: u64,
) -> Option<SelectStatement> {
    let (table, cond) = leading_rows(dialect, filter, run.as_ref().map(|(key, _)| *key), false)?;
    let mut rows = Query::select()
        .expr(Expr::cust("1"))
        .from(table)
        .cond_where(cond)
        .limit(cap)
        .take();
    live_side_rows(table, &mut rows);
    if let Some((_, in_run)) = run {
        rows.and_where(in_run);
    }
    Some(rows)
}

fn sort_column(key: SortKey) -> (&'static str, Kind) {
    match key {
        SortKey::Name => ("sort_name", Kind::Text),
        SortKey::ContainerFormat => ("sort_container_format", Kind::Text),
        SortKey::DiskFormat => ("sort_disk_format", Kind::Text),
        SortKey::Size => ("sort_size", Kind::Integer),
        SortKey::Status => ("status", Kind::Text),
        SortKey::Id => ("id", Kind::Text),
        SortKey::CreatedAt => ("created_at", Kind::Integer),
        SortKey::UpdatedAt => ("updated_at", Kind::Integer),
    }
}

/// The marker's value of a sort expression.
fn marker_value(key: SortKey, marker: &Image) -> Value {
    let text = |v: &Option<String>| Value::from(v.clone().unwrap_or_default());
    match key {
        SortKey::Name => text(&marker.name),
        SortKey::ContainerFormat => text(&marker.container_format),
        SortKey::DiskFormat => text(&marker.disk_format),
        SortKey::Size => Value::from(
            marker
                .size
                .and_then(|s| i64::try_from(s).ok())
                .unwrap_or(-1),
        ),
        SortKey::Status => Value::from(marker.status.as_str()),
        SortKey::Id => Value::from(marker.id.to_string()),
        SortKey::CreatedAt => Value::from(to_micros(marker.created_at)),
        SortKey::UpdatedAt => Value::from(to_micros(marker.updated_at)),
    }
}

/// Rows up to `end` in sort order, `end` included: the complement of
/// [`after_marker`], with the bound `k1 <= e1` (`>=` for a descending
/// key) that ends the database's index walk there.
fn up_to(sort: &[(SortKey, SortDir)], end: &Image) -> Cond {
    let mut cond = Cond::all().not().add(after_marker(sort, end));
    if let Some((key, dir)) = sort.first() {
        let value = Expr::val(marker_value(*key, end));
        let bound = match dir {
            SortDir::Asc => sort_expr(*key).lte(value),
            SortDir::Desc => sort_expr(*key).gte(value),
        };
        cond = Cond::all().add(bound).add(cond);
    }
    cond
}

/// Rows strictly after the marker in sort order:
/// `(k1 > m1) OR (k1 = m1 AND k2 > m2) OR …` (`<` for descending keys),
/// plus the implied bound `k1 >= m1` on its own, which lets the database
/// start its index scan at the marker instead of filtering from the top.
fn after_marker(sort: &[(SortKey, SortDir)], marker: &Image) -> Cond {
    after_marker_on(sort, marker, sort_expr, false)
}

/// [`after_marker`] on the sort keys as `sort_expr` writes them; with
/// `opaque`, the branches of the `OR` as one opaque term ([`unsplit`]),
/// beside the bound on the first key.
fn after_marker_on(
    sort: &[(SortKey, SortDir)],
    marker: &Image,
    sort_expr: impl Fn(SortKey) -> Expr,
    opaque: bool,
) -> Cond {
    let mut any = Cond::any();
    for (i, (key, dir)) in sort.iter().enumerate() {
        let mut all = Cond::all();
        for (earlier, _) in &sort[..i] {
            all = all.add(sort_expr(*earlier).eq(Expr::val(marker_value(*earlier, marker))));
        }
        let value = Expr::val(marker_value(*key, marker));
        all = all.add(match dir {
            SortDir::Asc => sort_expr(*key).gt(value),
            SortDir::Desc => sort_expr(*key).lt(value),
        });
        any = any.add(all);
    }
    let mut cond = Cond::all();
    if let Some((key, dir)) = sort.first() {
        let value = Expr::val(marker_value(*key, marker));
        cond = cond.add(match dir {
            SortDir::Asc => sort_expr(*key).gte(value),
            SortDir::Desc => sort_expr(*key).lte(value),
        });
    }
    cond.add(if opaque { unsplit(any) } else { any })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec;
    use sqlx::{AssertSqlSafe, Row};

    /// The default order must be served by walking the
    /// partial (created_at, id) index of live images, never by sorting every visible row.
    #[tokio::test]
    async fn default_order_walks_the_created_at_index_on_sqlite() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        let marker = crate::tests::sample_image();
        let viewers = [
            Viewer {
                project_id: None,
                is_admin: true,
            },
            Viewer {
                project_id: Some("p".into()),
                is_admin: false,
            },
        ];
        for viewer in &viewers {
            for marker in [None, Some(&marker)] {
                let query = list_query(
                    Dialect::Sqlite,
                    &ImageListQuery::default(),
                    &ListPlan::default(),
                    100,
                    marker,
                    viewer,
                );
                let (sql, args) = exec::render(Dialect::Sqlite, &query).unwrap();
                let rows =
                    sqlx::query_with(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")), args)
                        .fetch_all(db.pool())
                        .await
                        .unwrap();
                let plan: Vec<String> = rows.iter().map(|r| r.try_get(3).unwrap()).collect();
                let text = plan.join("\n");
                assert!(text.contains("ix_images_live_created"), "{text}");
                assert!(!text.contains("TEMP B-TREE"), "{text}");
                // After a marker the scan starts at the marker.
                assert_eq!(marker.is_some(), text.contains("created_at<"), "{text}");
            }
        }
    }

    /// A tag matching many images is probed per image while the list's
    /// index is walked in order: no collecting of every matching row, no
    /// sort.
    #[tokio::test]
    async fn a_tag_matching_many_images_is_probed_along_the_list_order() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        let q = ImageListQuery::from_pairs(&[("tag".to_string(), "common".to_string())]).unwrap();
        let admin = Viewer {
            project_id: None,
            is_admin: true,
        };
        let plan = ListPlan {
            filters: vec![FilterForm::Probe],
            ..ListPlan::default()
        };
        let query = list_query(Dialect::Sqlite, &q, &plan, 100, None, &admin);
        let (sql, args) = exec::render(Dialect::Sqlite, &query).unwrap();
        let rows = sqlx::query_with(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")), args)
            .fetch_all(db.pool())
            .await
            .unwrap();
        let plan: Vec<String> = rows.iter().map(|r| r.try_get(3).unwrap()).collect();
        let text = plan.join("\n");
        assert!(text.contains("ix_images_live_created"), "{text}");
        assert!(
            text.contains("SEARCH image_tags USING COVERING INDEX sqlite_autoindex_image_tags_1"),
            "{text}"
        );
        assert!(!text.contains("TEMP B-TREE"), "{text}");
    }

    /// Which read a run of equal first keys behind a tag gets: sorted
    /// whole while it is short ([`RUN_SORTED`], here scaled with the
    /// count that makes a filter lead) or a small part of the tag's rows,
    /// walked along the next key's index where it is long and most of them.
    #[tokio::test]
    async fn a_run_behind_a_tag_is_walked_only_where_long_and_most_of_the_tag() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        // A run over 10 rows is long; a tag's count stops at 2,000.
        db.set_few_rows(500);
        let tagged = |tag: &str, sizes: &[(u64, usize)]| {
            let mut images = Vec::new();
            for &(size, n) in sizes {
                for _ in 0..n {
                    let mut image = crate::tests::sample_image();
                    image.size = Some(size);
                    image.tags = vec![tag.to_string()];
                    images.push(image);
                }
            }
            images
        };
        let images = [
            tagged("short", &[(1, 10)]),
            tagged("long", &[(1, 12)]),
            tagged("mixed", &[(1, 15), (2, 185)]),
        ];
        for image in images.iter().flatten() {
            db.create_image(image).await.unwrap();
        }
        let walked = async |tag: &str, size: i64| {
            let filter = Filter::Tag(tag.to_string());
            let (table, _) = leading_rows(Dialect::Sqlite, &filter, None, false).unwrap();
            let run = side_sort_expr(table, SortKey::Size).eq(Expr::val(size));
            db.run_is_walked(&filter, (SortKey::Size, run), 5)
                .await
                .unwrap()
        };
        // All of a tag, and no longer than a page's worth of sorting.
        assert!(!walked("short", 1).await);
        // All of a tag, and longer.
        assert!(walked("long", 1).await);
        // 15 of 200 rows: walking the size index's next key would pass
        // about 13 rows of the tag for each of the run's.
        assert!(!walked("mixed", 1).await);
        // 185 of 200.
        assert!(walked("mixed", 2).await);
        // No row at all.
        assert!(!walked("mixed", 3).await);
    }

    /// On MySQL/MariaDB a page started from a list of ids or a leading
    /// tag's rows names the primary key as its only index, unless another
    /// filter could start it through an index of its own.
    #[test]
    fn pages_started_by_key_name_the_primary_key_on_mysql() {
        let member = Viewer {
            project_id: Some("p".into()),
            is_admin: false,
        };
        let sql = |pairs: &[(&str, &str)], plan: &ListPlan| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let q = ImageListQuery::from_pairs(&pairs).unwrap();
            exec::build(
                Dialect::MySql,
                &list_query(Dialect::MySql, &q, plan, 100, None, &member),
            )
            .0
        };
        let hint = "FORCE INDEX (`PRIMARY`)";
        let listed = ListPlan {
            filters: vec![FilterForm::Listed, FilterForm::Probe],
            ids: vec!["a".into(), "b".into()],
            order_unindexed: true,
            ..ListPlan::default()
        };
        let two = [("status", "queued"), ("os_distro", "cirros")];
        assert!(sql(&two, &listed).contains(hint), "{}", sql(&two, &listed));
        let leads = ListPlan {
            filters: vec![FilterForm::Leads],
            ..ListPlan::default()
        };
        let tag = [("tag", "t"), ("sort_key", "name")];
        assert!(sql(&tag, &leads).contains(hint), "{}", sql(&tag, &leads));
        let shared = ListPlan {
            shared_ids: vec!["a".into()],
            order_unindexed: true,
            ..ListPlan::default()
        };
        let visibility = [("visibility", "shared")];
        assert!(sql(&visibility, &shared).contains(hint));
        // A checksum could start the page through its own index.
        let driven = ListPlan {
            filters: vec![FilterForm::Drive, FilterForm::Leads],
            ..ListPlan::default()
        };
        let both = [("checksum", "0123"), ("tag", "t"), ("sort_key", "name")];
        assert!(!sql(&both, &driven).contains(hint));
        let listed_and_driven = ListPlan {
            filters: vec![FilterForm::Listed, FilterForm::Drive],
            ..listed.clone()
        };
        assert!(!sql(&two, &listed_and_driven).contains(hint));
        // So could a visibility matching few, or hidden images.
        let few_private = ListPlan {
            visibility: FilterForm::Drive,
            ..listed.clone()
        };
        let private = [
            ("status", "queued"),
            ("os_distro", "cirros"),
            ("visibility", "private"),
        ];
        assert!(!sql(&private, &few_private).contains(hint));
        let hidden = [
            ("status", "queued"),
            ("os_distro", "cirros"),
            ("os_hidden", "true"),
        ];
        assert!(!sql(&hidden, &listed).contains(hint));
        // Everything else is left to the planner (or to the order's index).
        assert!(!sql(&[], &ListPlan::default()).contains(hint));
    }
}
