//! A small page writer for the documents: A4 pages, text in DejaVu Sans (regular and
//! bold) measured for wrapping and alignment, rules and shaded boxes, a footer with page
//! numbers. Fonts are embedded as subsets (CIDFontType2, Identity-H) with a `/ToUnicode`
//! map, so every character (ąęłńóśźż, äöüß, …) renders and can be copied or extracted.

use std::collections::BTreeMap;
use std::io::Write;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use sha2::{Digest, Sha256};
use subsetter::GlyphRemapper;

use super::DocumentError;

static REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// A4 in points.
pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;
/// The left and right margin.
pub const MARGIN: f32 = 50.0;
/// Where the first line of a page starts (its top).
pub const TOP: f32 = PAGE_HEIGHT - 50.0;
/// Nothing but the footer goes below this.
pub const BOTTOM: f32 = 62.0;
/// The width between the margins.
pub const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
pub const LEFT: f32 = MARGIN;
pub const RIGHT: f32 = PAGE_WIDTH - MARGIN;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

/// How text looks: size in points, weight, and gray level (0 black … 1 white).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    pub size: f32,
    pub weight: Weight,
    pub gray: f32,
}

impl Style {
    pub const fn regular(size: f32) -> Style {
        Style {
            size,
            weight: Weight::Regular,
            gray: 0.0,
        }
    }

    pub const fn bold(size: f32) -> Style {
        Style {
            size,
            weight: Weight::Bold,
            gray: 0.0,
        }
    }

    pub const fn gray(self, gray: f32) -> Style {
        Style { gray, ..self }
    }

    pub const fn size(self, size: f32) -> Style {
        Style { size, ..self }
    }

    /// The distance between two baselines of this style.
    pub fn leading(self) -> f32 {
        self.size * 1.3
    }
}

/// A font and the glyphs used from it so far.
struct FontUse {
    face: ttf_parser::Face<'static>,
    data: &'static [u8],
    postscript_name: &'static str,
    resource: Name<'static>,
    remapper: GlyphRemapper,
    /// New glyph id → the text it stands for (the first seen).
    to_unicode: BTreeMap<u16, String>,
    units_per_em: f32,
}

impl FontUse {
    fn load(
        data: &'static [u8],
        postscript_name: &'static str,
        resource: Name<'static>,
    ) -> Result<FontUse, DocumentError> {
        let face = ttf_parser::Face::parse(data, 0)
            .map_err(|e| DocumentError::Render(format!("font {postscript_name}: {e}")))?;
        let units_per_em = f32::from(face.units_per_em());
        Ok(FontUse {
            face,
            data,
            postscript_name,
            resource,
            remapper: GlyphRemapper::new(),
            to_unicode: BTreeMap::new(),
            units_per_em,
        })
    }

    /// The glyph for a character: `?` for what the font lacks; `None` for control
    /// characters, which are not drawn.
    fn glyph(&self, c: char) -> Option<(ttf_parser::GlyphId, char)> {
        let c = if c == '\t' || c == '\u{a0}' { ' ' } else { c };
        if c.is_control() {
            return None;
        }
        match self.face.glyph_index(c) {
            Some(g) => Some((g, c)),
            None => self.face.glyph_index('?').map(|g| (g, '?')),
        }
    }

    /// Advance width of a glyph in thousandths of an em.
    fn advance(&self, glyph: ttf_parser::GlyphId) -> f32 {
        f32::from(self.face.glyph_hor_advance(glyph).unwrap_or(0)) * 1000.0 / self.units_per_em
    }

    /// Width of a text in thousandths of an em.
    fn width(&self, text: &str) -> f32 {
        text.chars()
            .filter_map(|c| self.glyph(c))
            .map(|(g, _)| self.advance(g))
            .sum()
    }

    /// The text as two-byte glyph ids of the subset (remapping as it goes).
    fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let Some((glyph, shown)) = self.glyph(c) else {
                continue;
            };
            let new = self.remapper.remap(glyph.0);
            self.to_unicode
                .entry(new)
                .or_insert_with(|| shown.to_string());
            out.extend_from_slice(&new.to_be_bytes());
        }
        out
    }
}

/// A document being laid out, page by page, from the top down.
pub struct Document {
    title: String,
    footer: String,
    fonts: [FontUse; 2],
    pages: Vec<Content>,
    /// The top of the next thing on the current page.
    pub y: f32,
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(data.len() / 2),
        flate2::Compression::best(),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// A six-letter tag naming a font subset (as PDF asks: `ABCDEF+Name`).
fn subset_tag(name: &str, glyphs: &[u16]) -> String {
    let mut hash = Sha256::new();
    hash.update(name.as_bytes());
    for g in glyphs {
        hash.update(g.to_be_bytes());
    }
    hash.finalize()
        .iter()
        .take(6)
        .map(|b| char::from(b'A' + b % 26))
        .collect()
}

impl Document {
    /// A new document with one empty page. `footer` is printed at the foot of every page.
    pub fn new(title: &str, footer: &str) -> Result<Document, DocumentError> {
        Ok(Document {
            title: title.to_owned(),
            footer: footer.to_owned(),
            fonts: [
                FontUse::load(REGULAR_TTF, "DejaVuSans", Name(b"F1"))?,
                FontUse::load(BOLD_TTF, "DejaVuSans-Bold", Name(b"F2"))?,
            ],
            pages: vec![Content::new()],
            y: TOP,
        })
    }

    fn font(&self, weight: Weight) -> &FontUse {
        &self.fonts[match weight {
            Weight::Regular => 0,
            Weight::Bold => 1,
        }]
    }

    fn font_mut(&mut self, weight: Weight) -> &mut FontUse {
        &mut self.fonts[match weight {
            Weight::Regular => 0,
            Weight::Bold => 1,
        }]
    }

    fn page(&mut self) -> &mut Content {
        self.pages.last_mut().expect("a document always has a page")
    }

    /// The width of a text in points.
    pub fn width(&self, style: Style, text: &str) -> f32 {
        self.font(style.weight).width(text) * style.size / 1000.0
    }

    /// Draws a line of text with its baseline at `y`, starting at `x`.
    pub fn text(&mut self, x: f32, y: f32, style: Style, text: &str) {
        let glyphs = self.font_mut(style.weight).encode(text);
        if glyphs.is_empty() {
            return;
        }
        let resource = self.font(style.weight).resource;
        let page = self.page();
        page.set_fill_gray(style.gray);
        page.begin_text();
        page.set_font(resource, style.size);
        page.set_text_matrix([1.0, 0.0, 0.0, 1.0, x, y]);
        page.show(Str(&glyphs));
        page.end_text();
    }

    /// Draws a line of text ending at `right`.
    pub fn text_right(&mut self, right: f32, y: f32, style: Style, text: &str) {
        let w = self.width(style, text);
        self.text(right - w, y, style, text);
    }

    /// The largest size (down to 60 % of the style's) at which `text` fits in `width`.
    pub fn fit(&self, style: Style, text: &str, width: f32) -> Style {
        let w = self.width(style, text);
        if w <= width || w <= 0.0 {
            return style;
        }
        style.size((style.size * width / w).max(style.size * 0.6))
    }

    /// The text cut to `width`, ending with `…` when it was cut.
    pub fn truncate(&self, style: Style, text: &str, width: f32) -> String {
        if self.width(style, text) <= width {
            return text.to_owned();
        }
        let ellipsis = self.width(style, "…");
        let mut out = String::new();
        let mut used = 0.0;
        for c in text.chars() {
            let w = self.width(style, c.encode_utf8(&mut [0; 4]));
            if used + w + ellipsis > width {
                break;
            }
            used += w;
            out.push(c);
        }
        format!("{}…", out.trim_end())
    }

    /// Breaks a text into lines no wider than `width`: at spaces where it can, inside
    /// a word where a word alone is too wide. `\n` starts a new line.
    pub fn wrap(&self, style: Style, text: &str, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for word in paragraph.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(style, &candidate) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                // A word wider than the line is cut where it must be.
                let mut rest = word;
                while self.width(style, rest) > width {
                    let mut cut = 0;
                    let mut used = 0.0;
                    for (i, c) in rest.char_indices() {
                        let w = self.width(style, c.encode_utf8(&mut [0; 4]));
                        if used + w > width && i > 0 {
                            break;
                        }
                        used += w;
                        cut = i + c.len_utf8();
                    }
                    lines.push(rest[..cut].to_owned());
                    rest = &rest[cut..];
                }
                line = rest.to_owned();
            }
            lines.push(line);
        }
        lines
    }

    /// Like `wrap`, but at most `max_lines`; the last kept line ends with `…` when text
    /// was left out.
    pub fn wrap_at_most(
        &self,
        style: Style,
        text: &str,
        width: f32,
        max_lines: usize,
    ) -> Vec<String> {
        let mut lines = self.wrap(style, text, width);
        if lines.len() > max_lines {
            lines.truncate(max_lines.max(1));
            if let Some(last) = lines.last_mut() {
                let longer = format!("{last} …");
                *last = self.truncate(style, &longer, width);
                if !last.ends_with('…') {
                    last.push('…');
                }
            }
        }
        lines
    }

    /// A line from (x1, y1) to (x2, y2).
    pub fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32, gray: f32) {
        let page = self.page();
        page.set_stroke_gray(gray);
        page.set_line_width(width);
        page.move_to(x1, y1);
        page.line_to(x2, y2);
        page.stroke();
    }

    /// A filled rectangle; `y` is its bottom.
    pub fn fill_rect(&mut self, x: f32, y: f32, width: f32, height: f32, gray: f32) {
        let page = self.page();
        page.set_fill_gray(gray);
        page.rect(x, y, width, height);
        page.fill_nonzero();
    }

    /// An outlined rectangle; `y` is its bottom.
    pub fn stroke_rect(&mut self, x: f32, y: f32, width: f32, height: f32, line: f32, gray: f32) {
        let page = self.page();
        page.set_stroke_gray(gray);
        page.set_line_width(line);
        page.rect(x, y, width, height);
        page.stroke();
    }

    /// Starts a new page.
    pub fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = TOP;
    }

    /// Starts a new page unless `height` still fits above the bottom margin; says
    /// whether it started one.
    pub fn ensure(&mut self, height: f32) -> bool {
        if self.y - height < BOTTOM && self.y < TOP {
            self.new_page();
            true
        } else {
            false
        }
    }

    /// Moves down by `height`.
    pub fn skip(&mut self, height: f32) {
        self.y -= height;
    }

    /// Writes wrapped text from the cursor down (across pages when needed), indented to
    /// `x` and at most `width` wide.
    pub fn paragraph(&mut self, x: f32, width: f32, style: Style, text: &str) {
        let leading = style.leading();
        for line in self.wrap(style, text, width) {
            self.ensure(leading);
            let baseline = self.y - style.size;
            self.text(x, baseline, style, &line);
            self.y -= leading;
        }
    }

    /// One line of text at the cursor, then down by its leading.
    pub fn line_of_text(&mut self, x: f32, style: Style, text: &str) {
        let leading = style.leading();
        self.ensure(leading);
        let baseline = self.y - style.size;
        self.text(x, baseline, style, text);
        self.y -= leading;
    }

    /// The finished PDF.
    pub fn finish(mut self) -> Result<Vec<u8>, DocumentError> {
        // The footer of every page, now that their number is known.
        let count = self.pages.len();
        let footer_style = Style::regular(7.5).gray(0.4);
        let footer = self.footer.clone();
        let mut contents = Vec::with_capacity(count);
        for (i, content) in std::mem::take(&mut self.pages).into_iter().enumerate() {
            self.pages.push(content);
            self.line(LEFT, 44.0, RIGHT, 44.0, 0.5, 0.75);
            let room = CONTENT_WIDTH - 80.0;
            let left = self.truncate(footer_style, &footer, room);
            self.text(LEFT, 32.0, footer_style, &left);
            self.text_right(
                RIGHT,
                32.0,
                footer_style,
                &format!("Page {} of {count}", i + 1),
            );
            let content = self.pages.pop().expect("just pushed");
            contents.push(content.finish().into_vec());
        }

        let mut pdf = Pdf::new();
        let mut next = 1;
        let mut alloc = || {
            let r = Ref::new(next);
            next += 1;
            r
        };
        let catalog = alloc();
        let tree = alloc();
        let info = alloc();
        pdf.catalog(catalog).pages(tree);
        pdf.document_info(info)
            .title(TextStr(&self.title))
            .producer(TextStr("Tessera"))
            .creator(TextStr("Tessera portal"));

        // Fonts: each used font as a subset.
        let mut font_refs: Vec<(Name<'static>, Ref)> = Vec::new();
        for font in &self.fonts {
            if font.to_unicode.is_empty() {
                continue;
            }
            let type0 = alloc();
            let cid = alloc();
            let descriptor = alloc();
            let cmap = alloc();
            let file = alloc();
            font_refs.push((font.resource, type0));
            write_font(&mut pdf, font, [type0, cid, descriptor, cmap, file])?;
        }

        let page_refs: Vec<Ref> = (0..contents.len()).map(|_| alloc()).collect();
        let content_refs: Vec<Ref> = (0..contents.len()).map(|_| alloc()).collect();
        pdf.pages(tree)
            .kids(page_refs.iter().copied())
            .count(i32::try_from(page_refs.len()).unwrap_or(i32::MAX));
        for ((page_ref, content_ref), content) in page_refs.iter().zip(&content_refs).zip(&contents)
        {
            let mut page = pdf.page(*page_ref);
            page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
            page.parent(tree);
            page.contents(*content_ref);
            let mut resources = page.resources();
            let mut fonts = resources.fonts();
            for (name, r) in &font_refs {
                fonts.pair(*name, *r);
            }
            fonts.finish();
            resources.finish();
            page.finish();
            let compressed = deflate(content);
            pdf.stream(*content_ref, &compressed)
                .filter(Filter::FlateDecode);
        }
        Ok(pdf.finish())
    }
}

fn write_font(pdf: &mut Pdf, font: &FontUse, refs: [Ref; 5]) -> Result<(), DocumentError> {
    let [type0, cid, descriptor, cmap_ref, file] = refs;
    let old_glyphs: Vec<u16> = font.remapper.remapped_gids().collect();
    let name = format!(
        "{}+{}",
        subset_tag(font.postscript_name, &old_glyphs),
        font.postscript_name
    );
    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };

    pdf.type0_font(type0)
        .base_font(Name(name.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap_ref);

    let widths: Vec<f32> = old_glyphs
        .iter()
        .map(|g| font.advance(ttf_parser::GlyphId(*g)).round())
        .collect();
    let mut cid_font = pdf.cid_font(cid);
    cid_font
        .subtype(CidFontType::Type2)
        .base_font(Name(name.as_bytes()))
        .system_info(system_info)
        .font_descriptor(descriptor)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    cid_font.widths().consecutive(0, widths);
    cid_font.finish();

    let face = &font.face;
    let scale = |v: i16| f32::from(v) * 1000.0 / font.units_per_em;
    let bbox = face.global_bounding_box();
    let weight = face.weight().to_number();
    let mut flags = FontFlags::SYMBOLIC;
    if face.is_italic() {
        flags |= FontFlags::ITALIC;
    }
    pdf.font_descriptor(descriptor)
        .name(Name(name.as_bytes()))
        .flags(flags)
        .bbox(Rect::new(
            scale(bbox.x_min),
            scale(bbox.y_min),
            scale(bbox.x_max),
            scale(bbox.y_max),
        ))
        .italic_angle(face.italic_angle())
        .ascent(scale(face.ascender()))
        .descent(scale(face.descender()))
        .cap_height(scale(face.capital_height().unwrap_or(face.ascender())))
        .stem_v(10.0 + 0.244 * (f32::from(weight) - 50.0))
        .font_file2(file);

    let mut cmap = UnicodeCmap::new(Name(b"Custom"), system_info);
    for (glyph, text) in &font.to_unicode {
        cmap.pair_with_multiple(*glyph, text.chars());
    }
    let cmap = deflate(cmap.finish().as_slice());
    pdf.cmap(cmap_ref, &cmap).filter(Filter::FlateDecode);

    let subset = subsetter::subset(font.data, 0, &font.remapper).map_err(|e| {
        DocumentError::Render(format!("font subset of {}: {e}", font.postscript_name))
    })?;
    let compressed = deflate(&subset);
    let mut stream = pdf.stream(file, &compressed);
    stream.filter(Filter::FlateDecode);
    stream.pair(
        Name(b"Length1"),
        i32::try_from(subset.len()).unwrap_or(i32::MAX),
    );
    stream.finish();
    Ok(())
}
