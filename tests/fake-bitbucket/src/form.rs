//! Form bodies (`multipart/form-data` and `application/x-www-form-urlencoded`),
//! as `POST R/src` takes them: read by the route and by the spec layer.
//! Multipart goes through `multer`, a parser independent of the clients
//! under test.

use std::convert::Infallible;

use bytes::Bytes;

/// One form field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// Set on multipart file fields (their `Content-Disposition` has one).
    pub filename: Option<String>,
    pub value: Vec<u8>,
}

/// The two form encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Multipart,
    UrlEncoded,
}

/// Which form encoding `content_type` names, if any.
pub fn encoding(content_type: Option<&str>) -> Option<Encoding> {
    let essence = content_type?.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "multipart/form-data" => Some(Encoding::Multipart),
        "application/x-www-form-urlencoded" => Some(Encoding::UrlEncoded),
        _ => None,
    }
}

/// The fields of a form body, in order; why it cannot be read otherwise.
pub async fn parse(content_type: Option<&str>, body: Bytes) -> Result<Vec<Field>, String> {
    match encoding(content_type) {
        Some(Encoding::UrlEncoded) => Ok(form_urlencoded::parse(&body)
            .map(|(name, value)| Field {
                name: name.into_owned(),
                filename: None,
                value: value.into_owned().into_bytes(),
            })
            .collect()),
        Some(Encoding::Multipart) => {
            let boundary = multer::parse_boundary(content_type.unwrap_or_default())
                .map_err(|e| format!("no usable boundary: {e}"))?;
            let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
            let mut multipart = multer::Multipart::new(stream, boundary);
            let mut fields = Vec::new();
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|e| format!("malformed multipart body: {e}"))?
            {
                let name = field
                    .name()
                    .ok_or("a multipart field without a name")?
                    .to_owned();
                let filename = field.file_name().map(str::to_owned);
                let value = field
                    .bytes()
                    .await
                    .map_err(|e| format!("malformed multipart field {name:?}: {e}"))?
                    .to_vec();
                fields.push(Field {
                    name,
                    filename,
                    value,
                });
            }
            Ok(fields)
        }
        None => Err(format!(
            "sent as {content_type:?}, not multipart/form-data or application/x-www-form-urlencoded"
        )),
    }
}
