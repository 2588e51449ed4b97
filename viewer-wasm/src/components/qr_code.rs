//! A QR code of a link, drawn in the page as SVG (the `qrcode` crate).

use yew::prelude::*;

/// Props of [`QrCode`].
#[derive(Properties, PartialEq)]
pub struct QrCodeProps {
    /// What the code encodes.
    pub text: AttrValue,
}

/// The QR code of `text` as an inline SVG image, black on white with its
/// quiet zone (phones' cameras need the contrast), or nothing if the text
/// is too long for a QR code.
#[function_component(QrCode)]
pub fn qr_code(props: &QrCodeProps) -> Html {
    match qr_svg(&props.text) {
        Some(svg) => html! {
            <div class="qr-code" role="img" aria-label="QR code of the link">
                { Html::from_html_unchecked(svg.into()) }
            </div>
        },
        None => html! {},
    }
}

/// The SVG markup of `text`'s QR code. Only the crate's own elements end up
/// in it (the text is encoded as modules, never written out), so it is safe
/// to put in the page as HTML.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .quiet_zone(true)
        .build();
    // The XML declaration is not valid inside HTML.
    let start = svg.find("<svg")?;
    Some(svg[start..].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_becomes_an_svg_without_its_text() {
        let svg = qr_svg("http://127.0.0.1:8080/s/abc#token=ts2.secret").unwrap();
        assert!(svg.starts_with("<svg"), "{svg:.40}");
        assert!(svg.contains("<path") || svg.contains("<rect"));
        assert!(!svg.contains("secret"));
    }
}
