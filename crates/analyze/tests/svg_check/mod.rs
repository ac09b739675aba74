//! SVG checks shared by the picture tests of synack-analyze and synack-cli: the document
//! parses as XML, and resvg draws it.
#![allow(dead_code)] // each test crate uses its own subset

/// Parses the SVG as XML and renders it; returns the pixels that are not white, and those
/// that are clearly red.
pub fn render(svg: &str) -> (usize, usize) {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default())
        .expect("usvg accepts the SVG");
    let size = tree.size().to_int_size();
    let mut pixmap =
        resvg::tiny_skia::Pixmap::new(size.width(), size.height()).expect("a non-empty picture");
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    let pixels = pixmap.pixels();
    let painted = pixels
        .iter()
        .filter(|p| !(p.red() == 255 && p.green() == 255 && p.blue() == 255))
        .count();
    let red = pixels
        .iter()
        .filter(|p| p.red() > 180 && p.green() < 80 && p.blue() < 80)
        .count();
    (painted, red)
}

/// Elements of the SVG whose class is `class`.
pub fn count_class(svg: &str, class: &str) -> usize {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    doc.descendants()
        .filter(|n| n.attribute("class") == Some(class))
        .count()
}
