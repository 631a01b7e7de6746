//! Product images: where each picture is, what it shows, in which order.

/// An image as a client sends it: position optional (the list's order by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawImage {
    pub url: String,
    pub alt: Option<String>,
    pub position: Option<i64>,
}

/// A valid image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProductImage {
    pub url: String,
    pub alt: String,
    pub position: i32,
}

/// What is wrong with a list of images: `index` None for the list itself, otherwise
/// which item and which of its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageError {
    pub index: Option<usize>,
    pub part: &'static str,
    pub message: String,
}

impl ImageError {
    /// The field as clients name it: `images`, `images[2].url`.
    pub fn field(&self) -> String {
        match self.index {
            None => "images".to_owned(),
            Some(i) => format!("images[{i}].{}", self.part),
        }
    }
}

/// A product's images, ordered by position: at most 20, https URLs of at most 2,000
/// characters with a host, alt text of at most 500 characters, distinct positions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductImages(Vec<ProductImage>);

impl ProductImages {
    pub const MAX_COUNT: usize = 20;
    pub const MAX_URL_LEN: usize = 2000;
    pub const MAX_ALT_LEN: usize = 500;
    pub const MAX_POSITION: i64 = 1000;

    pub fn parse(raw: Vec<RawImage>) -> Result<Self, Vec<ImageError>> {
        if raw.len() > Self::MAX_COUNT {
            return Err(vec![ImageError {
                index: None,
                part: "",
                message: format!("must have at most {} images", Self::MAX_COUNT),
            }]);
        }
        let mut errors = Vec::new();
        let mut images = Vec::with_capacity(raw.len());
        for (index, image) in raw.into_iter().enumerate() {
            let mut fail = |part, message: String| {
                errors.push(ImageError {
                    index: Some(index),
                    part,
                    message,
                })
            };
            if let Err(message) = check_url(&image.url) {
                fail("url", message);
            }
            let alt = image.alt.unwrap_or_default();
            if alt.contains('\0') || alt.chars().count() > Self::MAX_ALT_LEN {
                fail(
                    "alt",
                    format!(
                        "must be at most {} characters, without NUL",
                        Self::MAX_ALT_LEN
                    ),
                );
            }
            let position = image.position.unwrap_or(index as i64);
            if !(0..=Self::MAX_POSITION).contains(&position) {
                fail(
                    "position",
                    format!("must be a whole number from 0 to {}", Self::MAX_POSITION),
                );
            } else if images
                .iter()
                .any(|i: &ProductImage| i64::from(i.position) == position)
            {
                fail("position", format!("{position} is taken by another image"));
            }
            images.push(ProductImage {
                url: image.url,
                alt: alt.trim().to_owned(),
                position: position.clamp(0, Self::MAX_POSITION) as i32,
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        images.sort_by_key(|image| image.position);
        Ok(Self(images))
    }

    /// Images as stored (already valid and ordered).
    pub fn from_stored(images: Vec<ProductImage>) -> Self {
        Self(images)
    }

    pub fn as_slice(&self) -> &[ProductImage] {
        &self.0
    }

    pub fn into_inner(self) -> Vec<ProductImage> {
        self.0
    }
}

/// An absolute https URL with a host of letters, digits, dots and hyphens (and maybe a
/// port), with no whitespace, control characters or backslashes anywhere: text a browser
/// takes as it is, stored as it was sent (the document's pattern says the same).
fn check_url(raw: &str) -> Result<(), String> {
    if raw.chars().count() > ProductImages::MAX_URL_LEN {
        return Err(format!(
            "must be at most {} characters long",
            ProductImages::MAX_URL_LEN
        ));
    }
    let Some(rest) = raw.strip_prefix("https://") else {
        return Err("must be an absolute https URL".into());
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let port_ok = match port {
        None => true,
        Some(p) => (1..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()),
    };
    if !host_ok || !port_ok {
        return Err("must name its host in letters, digits, dots and hyphens".into());
    }
    if tail
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err("must not contain spaces, control characters or backslashes".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(url: &str, position: Option<i64>) -> RawImage {
        RawImage {
            url: url.into(),
            alt: None,
            position,
        }
    }

    #[test]
    fn images_are_ordered_by_position_defaulting_to_the_list_order() {
        let images = ProductImages::parse(vec![
            raw("https://cdn.example.com/b.jpg", Some(5)),
            raw("https://cdn.example.com/a.jpg", Some(1)),
        ])
        .unwrap();
        let urls: Vec<_> = images.as_slice().iter().map(|i| i.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://cdn.example.com/a.jpg",
                "https://cdn.example.com/b.jpg"
            ]
        );
        let images = ProductImages::parse(vec![
            raw("https://x.example/1", None),
            raw("https://x.example/2", None),
        ])
        .unwrap();
        assert_eq!(images.as_slice()[1].position, 1);
    }

    #[test]
    fn bad_images_name_the_item_and_field() {
        let long = format!("https://x.example/{}", "a".repeat(2000));
        for (url, field) in [
            ("http://x.example/a.jpg", "images[0].url"),
            ("ftp://x.example/a.jpg", "images[0].url"),
            ("/a.jpg", "images[0].url"),
            ("https://x.example/a b.jpg", "images[0].url"),
            (long.as_str(), "images[0].url"),
        ] {
            let errors = ProductImages::parse(vec![raw(url, None)]).unwrap_err();
            assert_eq!(errors[0].field(), field, "{url}");
        }
        let errors = ProductImages::parse(vec![
            raw("https://x.example/1", Some(0)),
            raw("https://x.example/2", Some(0)),
        ])
        .unwrap_err();
        assert_eq!(errors[0].field(), "images[1].position");
        let many = (0..21)
            .map(|i| raw(&format!("https://x.example/{i}"), None))
            .collect();
        assert_eq!(ProductImages::parse(many).unwrap_err()[0].field(), "images");
    }
}
