//! The current user: `GET /user`.

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::ApiAccount;
use crate::path::ApiPath;
use crate::types::Account;
use crate::wire::NoParams;

pub fn current(upstream: &dyn Upstream, _: NoParams) -> Result<Account, Error> {
    let user: ApiAccount = upstream.json(&Endpoint::get(ApiPath::new("user")))?;
    Ok(user.into_account())
}
