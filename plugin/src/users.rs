//! The current user: `GET /user`.

use crate::error::Error;
use crate::model::ApiAccount;
use crate::path::ApiPath;
use crate::schema::NoParams;
use crate::transport::{Client, Endpoint};
use crate::types::Account;

pub fn current(_: NoParams) -> Result<Account, Error> {
    current_with(&Client::connect()?)
}

pub fn current_with(client: &Client) -> Result<Account, Error> {
    let user: ApiAccount = client.json(&Endpoint::get(ApiPath::new("user")))?;
    Ok(user.into_account())
}
