//! A repository's pipeline variables: `R/pipelines_config/variables[/{uuid}]`.
//!
//! A secured variable's value is write-only: Bitbucket never answers it, the
//! component never logs a request body, and a value that does come back for
//! a secured variable is dropped rather than passed on.

use serde::{Deserialize, Serialize};

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::page::{self, Listing, Paginated};
use crate::path::ApiPath;
use crate::pipelines::braced;
use crate::reconcile::reconcile;
use crate::types::{
    CreateRepositoryVariableRequest, ListRepositoryVariablesRequest, RepositoryVariable,
    RepositoryVariablePage, RepositoryVariableRef, UpdateRepositoryVariableRequest,
};

#[derive(Deserialize)]
struct ApiVariable {
    uuid: Option<String>,
    key: Option<String>,
    value: Option<String>,
    secured: Option<bool>,
}

impl ApiVariable {
    fn into_variable(self) -> RepositoryVariable {
        let secured = self.secured.unwrap_or(false);
        RepositoryVariable {
            uuid: self.uuid.unwrap_or_default(),
            key: self.key.unwrap_or_default(),
            value: if secured { None } else { self.value },
            secured,
        }
    }
}

/// The spec names no `q` or `sort` for variables.
const VARIABLES: Listing = Listing {
    filter: false,
    sort: false,
    ..Listing::new("variables", &[])
};

fn variables(workspace: &str, repo_slug: &str) -> Result<ApiPath, Error> {
    Ok(ApiPath::repository(workspace, repo_slug)?.literal("pipelines_config/variables"))
}

fn variable(workspace: &str, repo_slug: &str, uuid: &str) -> Result<ApiPath, Error> {
    variables(workspace, repo_slug)?.param("variable_uuid", &braced(uuid))
}

/// Bitbucket's rule for variable names, checked before anything is sent.
fn check_key(key: &str) -> Result<(), Error> {
    let mut bytes = key.bytes();
    let fits = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if fits {
        Ok(())
    } else {
        Err(Error::validation(
            "key",
            "use letters, digits and '_', not starting with a digit",
        ))
    }
}

pub fn list(
    upstream: &dyn Upstream,
    request: ListRepositoryVariablesRequest,
) -> Result<RepositoryVariablePage, Error> {
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(variables(&request.workspace, &request.repo_slug)?),
        request.page.as_ref(),
        VARIABLES,
        ApiVariable::into_variable,
    )?;
    Ok(RepositoryVariablePage { items, next_cursor })
}

#[derive(Serialize)]
struct VariableBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secured: Option<bool>,
}

pub fn create(
    upstream: &dyn Upstream,
    request: CreateRepositoryVariableRequest,
) -> Result<RepositoryVariable, Error> {
    let key = request.key.trim();
    check_key(key)?;
    let path = variables(&request.workspace, &request.repo_slug)?;
    let body = VariableBody {
        key: Some(key),
        value: Some(&request.value),
        secured: Some(request.secured),
    };
    let created = upstream
        .json::<ApiVariable>(&Endpoint::post(path.clone()).json(&body)?)
        .map(ApiVariable::into_variable);
    // Keys are unique in a repository and a second create is refused (409):
    // the variable of that key is this call's.
    reconcile(created, || {
        let page: Paginated<ApiVariable> =
            upstream.json(&Endpoint::get(path).query("pagelen", "100"))?;
        Ok(page
            .values
            .into_iter()
            .find(|v| v.key.as_deref() == Some(key))
            .map(ApiVariable::into_variable))
    })
}

pub fn update(
    upstream: &dyn Upstream,
    request: UpdateRepositoryVariableRequest,
) -> Result<RepositoryVariable, Error> {
    let key = request.key.as_deref().map(str::trim);
    if let Some(key) = key {
        check_key(key)?;
    }
    let path = variable(
        &request.workspace,
        &request.repo_slug,
        &request.variable_uuid,
    )?;
    let body = VariableBody {
        key,
        value: request.value.as_deref(),
        secured: request.secured,
    };
    let updated: ApiVariable = upstream.json(&Endpoint::put(path).json(&body)?)?;
    Ok(updated.into_variable())
}

pub fn delete(
    upstream: &dyn Upstream,
    request: RepositoryVariableRef,
) -> Result<RepositoryVariableRef, Error> {
    let path = variable(
        &request.workspace,
        &request.repo_slug,
        &request.variable_uuid,
    )?;
    upstream.send(&Endpoint::delete(path))?;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secured_value_never_leaves_even_if_bitbucket_sent_one() {
        let answered = ApiVariable {
            uuid: Some("{1}".into()),
            key: Some("TOKEN".into()),
            value: Some("s3cr3t".into()),
            secured: Some(true),
        };
        assert_eq!(answered.into_variable().value, None);
    }

    #[test]
    fn keys_follow_bitbucket_rules() {
        assert!(check_key("DEPLOY_ENV").is_ok());
        assert!(check_key("_x1").is_ok());
        for bad in ["", "1ST", "A-B", "A B", "ÄB"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
