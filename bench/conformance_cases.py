"""Small feed documents for bench/conformance.py: each format's elements, dates in the forms the
specs and the wild use, relative links and xml:base chains, every Atom text construct type and
mode, entities, CDATA, encodings (BOMs, UTF-16, WHATWG labels) and the lenient cases.

Each case is (name, bytes, headers): `headers` are the HTTP response headers the document is
served with (Content-Type, Content-Location), or {} for the defaults.
"""

import base64

ATOM = "http://www.w3.org/2005/Atom"
ATOM03 = "http://purl.org/atom/ns#"


def rss(items, channel_extra="", version="2.0", ns="", decl='<?xml version="1.0" encoding="utf-8"?>'):
    return (
        f'{decl}<rss version="{version}"{ns}><channel><title>Channel</title>'
        f"<link>https://site.example/</link><description>d</description>{channel_extra}{items}"
        "</channel></rss>"
    )


def item(inner):
    return f"<item>{inner}</item>"


def atom(entries, extra="", ns_attrs="", base=""):
    b = f' xml:base="{base}"' if base else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="{ATOM}"{ns_attrs}{b}><title>Atom feed</title>'
        f'<id>urn:feed</id><updated>2024-01-02T03:04:05Z</updated><link href="https://atom.example/"/>{extra}{entries}</feed>'
    )


def entry(inner):
    return f"<entry>{inner}</entry>"


def atom03(entries):
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed version="0.3" xmlns="{ATOM03}"><title>Old</title>'
        f'<link rel="alternate" type="text/html" href="https://old.example/"/><modified>2004-01-01T00:00:00Z</modified>{entries}</feed>'
    )


def rdf(items, extra_ns=""):
    return (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        f'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"{extra_ns}>'
        '<channel rdf:about="https://rdf.example/"><title>RDF</title><link>https://rdf.example/</link>'
        f"<description>d</description></channel>{items}</rdf:RDF>"
    )


def cases():
    out = []

    def add(name, doc, headers=None):
        data = doc.encode("utf-8") if isinstance(doc, str) else doc
        out.append((name, data, headers or {}))

    # --- RSS 2.0 elements ---
    add("rss20-full", rss(item("<title>Full</title><link>https://site.example/1</link><guid>g1</guid>"
        "<pubDate>Tue, 02 Jan 2024 03:04:05 GMT</pubDate><description>Body</description>"
        "<author>a@site.example (A)</author><category>c</category>")))
    add("rss20-guid-permalink", rss(item("<title>P</title><guid isPermaLink=\"true\">https://site.example/p</guid>")))
    add("rss20-guid-not-permalink", rss(item("<title>P</title><guid isPermaLink=\"false\">tag:x,2024:1</guid><link>https://site.example/q</link>")))
    add("rss20-only-guid", rss(item("<guid>only-a-guid</guid>")))
    add("rss20-only-link", rss(item("<link>https://site.example/only-link</link>")))
    add("rss20-only-description", rss(item("<description>Only a description, as Mastodon publishes. Second sentence here.</description>")))
    add("rss20-description-html", rss(item("<description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;/p&gt;</description><guid>d1</guid>")))
    add("rss20-many-items", rss("".join(item(f"<title>Item {i}</title><guid>m{i}</guid>") for i in range(30))))
    add("rss20-content-encoded", rss(item("<title>CE</title><guid>ce</guid><content:encoded><![CDATA[<p>Full</p>]]></content:encoded>"),
        ns=' xmlns:content="http://purl.org/rss/1.0/modules/content/"'))
    add("rss20-dc-creator-date", rss(item("<title>DC</title><guid>dc</guid><dc:creator>X</dc:creator><dc:date>2024-01-02T03:04:05Z</dc:date>"),
        ns=' xmlns:dc="http://purl.org/dc/elements/1.1/"'))
    add("rss20-atom-link", rss(item("<title>AL</title><guid>al</guid>"), channel_extra='<atom:link href="https://site.example/feed" rel="self"/>',
        ns=' xmlns:atom="http://www.w3.org/2005/Atom"'))
    add("rss20-media", rss(item("<title>M</title><guid>me</guid><media:content url=\"https://site.example/a.jpg\"/>"),
        ns=' xmlns:media="http://search.yahoo.com/mrss/"'))
    add("rss20-enclosure", rss(item("<title>E</title><guid>en</guid><enclosure url=\"https://site.example/a.mp3\" length=\"1\" type=\"audio/mpeg\"/>")))
    add("rss20-no-version", rss(item("<title>NV</title><guid>nv</guid>")).replace(' version="2.0"', ""))
    add("rss20-title-cdata", rss(item("<title><![CDATA[CDATA & title]]></title><guid>cd</guid>")))
    add("rss20-title-cdata-html", rss(item("<title><![CDATA[<b>Bold</b> title]]></title><guid>cdh</guid>")))
    add("rss20-whitespace-link", rss(item("<title>W</title><link>\n   https://site.example/ws  \n</link>")))
    add("rss20-duplicate-guids", rss(item("<title>A</title><guid>same</guid>") + item("<title>B</title><guid>same2</guid>")))
    add("rss20-empty-title", rss(item("<title></title><guid>et</guid><description>Text of it</description>")))
    add("rss20-channel-only-link", rss(item("<title>x</title><guid>col</guid>")))
    for v in ["0.91", "0.92", "0.93", "0.94", "2.01"]:
        add(f"rss-version-{v}", rss(item(f"<title>Version {v}</title><link>https://site.example/v{v}</link>"), version=v))
    add("rss091-netscape-doctype",
        '<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"><channel><title>N</title>'
        "<link>https://n.example/</link><description>d</description><language>en</language>"
        "<item><title>Netscape</title><link>https://n.example/1</link></item></channel></rss>")
    add("rss090-netscape",
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">'
        "<channel><title>N90</title><link>https://n.example/</link><description>d</description></channel>"
        "<item><title>Ninety</title><link>https://n.example/90</link></item></rdf:RDF>")
    add("rss-userland-ns", '<rss version="2.0" xmlns="http://backend.userland.com/rss2"><channel><title>U</title>'
        "<item><title>Userland</title><link>https://u.example/1</link></item></channel></rss>")

    # --- RSS dates ---
    rss_dates = [
        "Tue, 02 Jan 2024 03:04:05 GMT", "Tue, 02 Jan 2024 03:04:05 +0000", "Tue, 02 Jan 2024 03:04:05 -0500",
        "Tue, 02 Jan 2024 03:04:05 +0530", "Tue, 02 Jan 2024 03:04 GMT", "02 Jan 2024 03:04:05 GMT",
        "Tue, 2 Jan 2024 03:04:05 GMT", "Tue, 02 Jan 24 03:04:05 GMT", "Tue, 02 Jan 2024 03:04:05 EST",
        "Tue, 02 Jan 2024 03:04:05 PDT", "Tue, 02 Jan 2024 03:04:05 UT", "Tue, 02 Jan 2024 03:04:05 Z",
        "Tuesday, 02 Jan 2024 03:04:05 GMT", "Tue, 02 January 2024 03:04:05 GMT", "2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05+09:00", "2024-01-02 03:04:05", "  Tue, 02 Jan 2024 03:04:05 GMT  ",
        "Tue, 02 Jan 2024 03:04:05 +00:00", "not a date",
    ]
    for i, d in enumerate(rss_dates):
        add(f"rss-date-{i:02d}", rss(item(f"<title>Date {i}</title><guid>d{i}</guid><pubDate>{d}</pubDate>")))

    # --- Atom 1.0 elements and dates ---
    add("atom-full", atom(entry('<id>urn:e1</id><title>Full</title><link href="https://atom.example/1"/>'
        "<published>2024-01-02T03:04:05Z</published><updated>2024-01-03T03:04:05Z</updated>"
        "<summary>S</summary><author><name>A</name></author><category term=\"c\"/>")))
    add("atom-only-id", atom(entry("<id>urn:only-id</id>")))
    add("atom-only-link", atom(entry('<link href="https://atom.example/only-link"/>')))
    add("atom-only-summary", atom(entry("<summary>Only a summary here.</summary>")))
    add("atom-link-rels", atom(entry('<id>urn:rels</id><title>Rels</title><link rel="self" href="https://atom.example/self"/>'
        '<link rel="enclosure" href="https://atom.example/a.mp3"/><link rel="alternate" type="text/html" href="https://atom.example/alt"/>')))
    add("atom-link-no-rel-after-other", atom(entry('<id>urn:nr</id><title>NoRel</title><link rel="replies" href="https://atom.example/r"/><link href="https://atom.example/plain"/>')))
    add("atom-multiple-entries", atom("".join(entry(f"<id>urn:m{i}</id><title>E{i}</title><updated>2024-01-0{1 + i % 9}T00:00:00Z</updated>") for i in range(12))))
    add("atom-content-src", atom(entry('<id>urn:src</id><title>Src</title><content src="https://atom.example/c" type="text/html"/>')))
    add("atom-empty-title", atom(entry("<id>urn:empty</id><title></title><summary>Summary only text.</summary>") + entry("<id>urn:ok</id><title>Ok</title>")))
    add("atom-self-closing-title", atom(entry("<id>urn:sc</id><title/><link href=\"https://atom.example/sc\"/>")))
    atom_dates = [
        "2024-01-02T03:04:05Z", "2024-01-02T03:04:05+01:00", "2024-01-02T03:04:05.123Z", "2024-01-02T03:04:05.123456-07:00",
        "2024-01-02T03:04Z", "2024-01-02T03:04+09:00", "2024-01-02", "2024-01-02T03:04:05", "2024-01-02 03:04:05Z",
        "20240102T030405Z", "2024-01-02T03:04:05z", "Tue, 02 Jan 2024 03:04:05 GMT", "  2024-01-02T03:04:05Z  ",
        "2024-13-45T99:99:99Z",
    ]
    for i, d in enumerate(atom_dates):
        add(f"atom-date-{i:02d}", atom(entry(f"<id>urn:d{i}</id><title>Date {i}</title><published>{d}</published><updated>{d}</updated>")))

    # --- Atom text constructs: every type ---
    texts = {
        "text": "<title type=\"text\">Plain &amp; simple</title>",
        "html": "<title type=\"html\">&lt;b&gt;Bold&lt;/b&gt; move</title>",
        "html-cdata": "<title type=\"html\"><![CDATA[<i>Italic</i> news]]></title>",
        "xhtml": "<title type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">X<b>HTML</b> title</div></title>",
        "xhtml-nodiv": "<title type=\"xhtml\">Bare <b>xhtml</b></title>",
        "text-plain": "<title type=\"text/plain\">Text slash plain</title>",
        "text-html": "<title type=\"text/html\">&lt;em&gt;Text&lt;/em&gt; slash html</title>",
        "app-xhtml": "<title type=\"application/xhtml+xml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">App xhtml</div></title>",
        "unknown-text": "<title type=\"text/x-markdown\">Markdown *title*</title>",
        "uppercase": "<title type=\"HTML\">&lt;b&gt;Upper&lt;/b&gt; type</title>",
        "content-text-plain": "<title>CTP</title><content type=\"text/plain\">Body text</content>",
        "content-app-xhtml": "<title>CAX</title><content type=\"application/xhtml+xml\"><div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Para</p></div></content>",
        "content-xml": "<title>CX</title><content type=\"application/xml\"><data>x</data></content>",
        "content-base64": "<title>CB</title><content type=\"image/png\">iVBORw0KGgo=</content>",
        "content-empty": "<title>CE</title><content type=\"html\"></content>",
        "summary-xhtml": "<title>SX</title><summary type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Sum</p></div></summary>",
    }
    for key, inner in texts.items():
        add(f"atom-text-{key}", atom(entry(f"<id>urn:t-{key}</id>{inner}<link href=\"https://atom.example/{key}\"/>")))
    add("atom-one-bad-entry-among-good", atom(
        entry("<id>urn:g1</id><title>Good one</title>")
        + entry("<id>urn:b1</id><title type=\"application/xhtml+xml\">Bad <b>one</b></title>")
        + entry("<id>urn:g2</id><title>Good two</title>")))

    # --- Atom 0.3 ---
    for mode, inner in {
        "escaped": '<content type="text/html" mode="escaped">&lt;p&gt;Escaped&lt;/p&gt;</content>',
        "xml": '<content type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Inline</p></div></content>',
        "base64": '<content type="text/html" mode="base64">' + base64.b64encode(b"<p>Base64 body</p>").decode() + "</content>",
        "title-escaped": '<title type="text/html" mode="escaped">&lt;b&gt;Esc&lt;/b&gt; title</title>',
        "title-xml": '<title type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml">Xml <b>title</b></div></title>',
        "title-plain": '<title type="text/plain">Plain 0.3 title</title>',
        "title-base64": '<title type="text/plain" mode="base64">' + base64.b64encode(b"B64 title").decode() + "</title>",
        "summary": '<summary type="text/plain">Sum 0.3</summary>',
    }.items():
        title = "" if mode.startswith("title") else "<title>Old entry</title>"
        add(f"atom03-{mode}", atom03(entry(f'{title}<link rel="alternate" type="text/html" href="https://old.example/{mode}"/>'
            f"<id>tag:old,2004:{mode}</id><issued>2004-01-01T10:00:00Z</issued><modified>2004-01-02T10:00:00Z</modified>{inner}")))
    add("atom03-created", atom03(entry('<title>Created</title><id>tag:old:c</id><created>2004-01-01T10:00:00Z</created><modified>2004-01-03T10:00:00Z</modified>')))

    # --- xml:base chains and relative links ---
    add("base-feed", atom(entry('<id>urn:b1</id><title>B1</title><link href="posts/1"/>'), base="https://base.example/blog/"))
    add("base-entry", atom(entry('<id>urn:b2</id><title>B2</title><link href="2"/>').replace("<entry>", '<entry xml:base="https://entry.example/x/">')))
    add("base-chain", atom(entry('<id>urn:b3</id><title>B3</title><link href="c"/>').replace("<entry>", '<entry xml:base="sub/">'), base="https://chain.example/a/"))
    add("base-chain-abs-path", atom(entry('<id>urn:b4</id><title>B4</title><link href="/root"/>').replace("<entry>", '<entry xml:base="sub/">'), base="https://chain.example/a/"))
    add("base-link-attr", atom(entry('<id>urn:b5</id><title>B5</title><link xml:base="https://linkbase.example/d/" href="e"/>')))
    add("base-from-http", atom(entry('<id>urn:b6</id><title>B6</title><link href="rel/6"/>')))
    add("base-content-location", atom(entry('<id>urn:b7</id><title>B7</title><link href="rel/7"/>')),
        {"Content-Type": "application/atom+xml", "Content-Location": "https://cl.example/feeds/atom.xml"})
    add("rss-relative-link", rss(item("<title>Rel</title><link>/relative/1</link><guid>rl</guid>")))
    add("rss-relative-link-xml-base", rss(item("<title>RelB</title><link>relative/2</link><guid>rlb</guid>")).replace("<channel>", '<channel xml:base="https://rb.example/dir/">'))
    add("rss-protocol-relative", rss(item("<title>PR</title><link>//pr.example/1</link><guid>pr</guid>")))
    add("rss-link-with-query", rss(item("<title>Q</title><link>https://q.example/a?x=1&amp;utm_source=rss</link><guid>q</guid>")))
    add("rss-link-with-space", rss(item("<title>Sp</title><link>https://sp.example/a b</link><guid>sp</guid>")))
    add("rss-link-idn", rss(item("<title>IDN</title><link>https://bücher.example/ä</link><guid>idn</guid>")))

    # --- RSS 1.0 ---
    add("rdf-basic", rdf('<item rdf:about="https://rdf.example/1"><title>One</title><link>https://rdf.example/1</link><dc:date>2024-01-02T03:04:05Z</dc:date></item>'))
    add("rdf-about-only", rdf('<item rdf:about="https://rdf.example/2"><title>About only</title></item>'))
    add("rdf-dc-title", rdf('<item rdf:about="https://rdf.example/3"><dc:title>DC title</dc:title><link>https://rdf.example/3</link></item>'))
    add("rdf-description", rdf('<item rdf:about="https://rdf.example/4"><title>D</title><link>https://rdf.example/4</link><description>&lt;p&gt;x&lt;/p&gt;</description></item>'))
    add("rdf-content-encoded", rdf('<item rdf:about="https://rdf.example/5"><title>CE</title><link>https://rdf.example/5</link><content:encoded><![CDATA[<p>c</p>]]></content:encoded></item>',
        extra_ns=' xmlns:content="http://purl.org/rss/1.0/modules/content/"'))
    add("rdf-dcterms", rdf('<item rdf:about="https://rdf.example/6"><title>T</title><link>https://rdf.example/6</link><dcterms:modified>2024-01-02T03:04+09:00</dcterms:modified></item>',
        extra_ns=' xmlns:dcterms="http://purl.org/dc/terms/"'))
    add("rdf-many", rdf("".join(f'<item rdf:about="https://rdf.example/m{i}"><title>M{i}</title><link>https://rdf.example/m{i}</link></item>' for i in range(8))))

    # --- Entities and CDATA ---
    add("entities-html4-sample", rss(item("<title>caf&eacute; &ndash; na&iuml;ve &hellip; &copy; &euro; &nbsp;end</title><guid>ent1</guid>")))
    html4 = ["nbsp", "iexcl", "cent", "pound", "yen", "sect", "copy", "laquo", "reg", "deg", "plusmn", "para", "middot",
             "raquo", "frac12", "iquest", "Agrave", "Aacute", "Ccedil", "Eacute", "Ntilde", "Ouml", "times", "szlig",
             "agrave", "aacute", "ccedil", "egrave", "eacute", "ntilde", "ouml", "divide", "uuml", "yuml", "OElig",
             "Scaron", "fnof", "circ", "tilde", "Alpha", "Omega", "alpha", "pi", "omega", "bull", "hellip", "prime",
             "trade", "larr", "rarr", "harr", "forall", "part", "exist", "empty", "nabla", "isin", "sum", "minus",
             "radic", "infin", "and", "or", "cap", "cup", "int", "asymp", "ne", "equiv", "le", "ge", "sub", "sup",
             "loz", "spades", "clubs", "hearts", "diams", "ensp", "emsp", "thinsp", "zwnj", "zwj", "lrm", "rlm",
             "ndash", "mdash", "lsquo", "rsquo", "sbquo", "ldquo", "rdquo", "bdquo", "dagger", "Dagger", "permil",
             "lsaquo", "rsaquo", "euro"]
    for chunk in range(0, len(html4), 25):
        names = html4[chunk:chunk + 25]
        add(f"entities-html4-{chunk // 25}", rss(item("<title>" + " ".join(f"x&{n};" for n in names) + f"</title><guid>e{chunk}</guid>")))
    add("entities-in-atom", atom(entry("<id>urn:ent</id><title>Caf&eacute; &amp; bar &mdash; ok</title>")))
    add("entities-numeric", rss(item("<title>&#233;&#xE9;&#8212;&#x2014;</title><guid>num</guid>")))
    add("entities-double-escaped", rss(item("<title>AT&amp;amp;T &amp;lt;tag&amp;gt;</title><guid>dbl</guid>")))
    add("entities-escaped-html-title", rss(item("<title>&lt;b&gt;Escaped bold&lt;/b&gt;</title><guid>ehtml</guid>")))
    add("entities-in-link", rss(item("<title>L</title><link>https://l.example/?a=1&amp;b=2</link><guid>lnk</guid>")))
    add("cdata-description", rss(item("<title>C</title><guid>cdesc</guid><description><![CDATA[<p>In <b>CDATA</b></p>]]></description>")))
    add("cdata-with-brackets", rss(item("<title><![CDATA[a ]] b]]></title><guid>cbr</guid>")))
    add("cdata-mixed", rss(item("<title>Start <![CDATA[<middle>]]> end</title><guid>cmix</guid>")))
    add("cdata-link", rss(item("<title>CL</title><link><![CDATA[https://cl.example/1]]></link><guid>cl</guid>")))
    add("cdata-date", rss(item("<title>CD</title><guid>cdd</guid><pubDate><![CDATA[Tue, 02 Jan 2024 03:04:05 GMT ]]></pubDate>")))

    # --- Lenient XML ---
    add("lenient-bare-amp-title", rss(item("<title>AT&T and P&G</title><guid>amp1</guid>")))
    add("lenient-bare-amp-link", rss(item("<title>Q</title><link>https://amp.example/?a=1&b=2</link><guid>amp2</guid>")))
    add("lenient-leading-whitespace", "\n\n   " + rss(item("<title>WS</title><guid>ws</guid>")))
    add("lenient-leading-bom-ws", b"\xef\xbb\xbf\n" + rss(item("<title>BOMWS</title><guid>bws</guid>")).encode())
    add("lenient-undeclared-content", rss(item("<title>UC</title><guid>uc</guid><content:encoded>&lt;p&gt;x&lt;/p&gt;</content:encoded>")))
    add("lenient-undeclared-dc", rss(item("<title>UD</title><guid>ud</guid><dc:creator>Me</dc:creator><dc:date>2024-01-02T03:04:05Z</dc:date>")))
    add("lenient-undeclared-media", rss(item("<title>UM</title><guid>um</guid><media:thumbnail url=\"https://m.example/t.jpg\"/>")))
    add("lenient-html-entity-atom-link", atom(entry("<id>urn:len</id><title>&ldquo;Quoted&rdquo;</title><link href=\"https://len.example/?a=1&b=2\"/>")))
    add("lenient-nul-bytes", rss(item("<title>N\x00UL</title><guid>nul</guid>")))
    add("lenient-no-declaration", rss(item("<title>No decl</title><guid>nd</guid>"), decl=""))
    add("lenient-uppercase-decl-encoding", rss(item("<title>Upper</title><guid>up</guid>"), decl='<?xml version="1.0" encoding="UTF-8"?>'))

    # --- Encodings ---
    text = "Ça va? Größe €5 naïve"
    for label, codec in [("iso-8859-1", "latin-1"), ("windows-1252", "cp1252"), ("iso-8859-15", "iso8859_15"),
                         ("iso-8859-2", "iso8859_2"), ("windows-1250", "cp1250"), ("koi8-r", "koi8_r"),
                         ("windows-1251", "cp1251"), ("shift_jis", "shift_jis"), ("euc-jp", "euc_jp"),
                         ("gb2312", "gb2312"), ("gbk", "gbk"), ("big5", "big5"), ("euc-kr", "euc_kr"),
                         ("iso-8859-7", "iso8859_7"), ("utf-8", "utf-8"), ("latin1", "latin-1"),
                         ("cp1252", "cp1252"), ("x-sjis", "shift_jis"), ("iso-2022-jp", "iso2022_jp")]:
        sample = {"koi8-r": "Привет мир", "windows-1251": "Привет мир", "shift_jis": "日本語のニュース",
                  "euc-jp": "日本語のニュース", "x-sjis": "日本語", "iso-2022-jp": "日本語", "gb2312": "中文新闻",
                  "gbk": "中文新闻", "big5": "中文新聞", "euc-kr": "한국어 뉴스", "iso-8859-7": "Ελληνικά",
                  "iso-8859-2": "Zażółć gęślą", "windows-1250": "Zażółć gęślą", "iso-8859-1": "Ça va? Größe naïve",
                  "latin1": "Ça va? Größe naïve"}.get(label, text)
        doc = rss(item(f"<title>{sample}</title><guid>enc-{label}</guid>"), decl=f'<?xml version="1.0" encoding="{label}"?>')
        add(f"enc-decl-{label}", doc.encode(codec))
    for label, codec in [("iso-8859-1", "latin-1"), ("windows-1251", "cp1251"), ("shift_jis", "shift_jis")]:
        sample = {"iso-8859-1": "Größe", "windows-1251": "Привет", "shift_jis": "日本"}[label]
        doc = rss(item(f"<title>{sample}</title><guid>http-{label}</guid>"), decl='<?xml version="1.0"?>')
        add(f"enc-http-{label}", doc.encode(codec), {"Content-Type": f"application/xml; charset={label}"})
    doc = rss(item("<title>Größe</title><guid>bom8</guid>"))
    add("enc-utf8-bom", b"\xef\xbb\xbf" + doc.encode("utf-8"))
    doc16 = rss(item("<title>UTF-16 ü 日本</title><guid>u16</guid>"), decl='<?xml version="1.0" encoding="UTF-16"?>')
    add("enc-utf16le-bom", b"\xff\xfe" + doc16.encode("utf-16-le"))
    add("enc-utf16be-bom", b"\xfe\xff" + doc16.encode("utf-16-be"))
    add("enc-invalid-utf8-as-cp1252", rss(item("<title>caf_ bar</title><guid>bad8</guid>")).encode().replace(b"caf_", b"caf\xe9"))

    # --- Dates with month and day names in other languages (the wild; feedparser reads Greek) ---
    intl_dates = {
        "de": "Mi, 16 Nov 2022 10:00:00 +0100", "de-long": "Mittwoch, 16. März 2022 10:00:00 +0100",
        "de-mrz": "Do, 02 Mär 2023 08:15:00 +0100", "fr": "mer., 16 févr. 2022 10:00:00 +0100",
        "fr-juil": "jeu., 07 juil. 2022 10:00:00 GMT", "es": "mié, 16 dic 2022 10:00:00 -0300",
        "es-long": "16 de noviembre de 2022 10:00:00 +0100", "es-mar": "mar, 01 mar 2022 10:00:00 +0000",
        "it": "gio, 12 mag 2022 10:00:00 +0200", "it-gen": "ven, 07 gen 2022 10:00:00 +0100",
        "pt": "Qua, 16 Out 2022 10:00:00 -0300", "pt-set": "Seg, 24 Set 2018 19:42:40 -0300",
        "nl": "wo, 16 mrt 2022 10:00:00 +0100", "nl-mei": "za, 14 mei 2022 10:00:00 +0200",
        "sv": "tis, 03 maj 2022 10:00:00 +0200", "pl": "śr, 16 lis 2022 10:00:00 +0100",
        "el": "Κυρ, 11 Ιούλ 2004 12:00:00 EST",
    }
    for lang, d in intl_dates.items():
        add(f"rss-date-intl-{lang}", rss(item(f"<title>Date {lang}</title><guid>di-{lang}</guid><pubDate>{d}</pubDate>")))
    add("rss-channel-dc-date", rss(item("<title>CD</title><guid>chd</guid>"),
        channel_extra="<dc:date>2024-01-02T03:04:05Z</dc:date>", ns=' xmlns:dc="http://purl.org/dc/elements/1.1/"'))
    add("rss-last-build-date", rss(item("<title>LB</title><guid>lbd</guid>"),
        channel_extra="<lastBuildDate>Tue, 02 Jan 2024 03:04:05 GMT</lastBuildDate>"))

    # --- The rest of the WHATWG Encoding Standard's encodings, by prolog ---
    whatwg = [
        ("ibm866", "cp866", "Привет мир"), ("iso-8859-3", "iso8859_3", "Ħal-Ġudja"), ("iso-8859-4", "iso8859_4", "Ģimene ŗ"),
        ("iso-8859-5", "iso8859_5", "Привет мир"), ("iso-8859-6", "iso8859_6", "مرحبا"), ("iso-8859-8", "iso8859_8", "שלום עולם"),
        ("iso-8859-8-i", "iso8859_8", "שלום עולם"), ("iso-8859-10", "iso8859_10", "Ŋŧ ðþ"), ("iso-8859-13", "iso8859_13", "Ąčęėį Łódź"),
        ("iso-8859-14", "iso8859_14", "Ḃḋ ŵŷ"), ("iso-8859-16", "iso8859_16", "Școală țară"), ("koi8-u", "koi8_u", "Привіт світ"),
        ("macintosh", "mac_roman", "Ça va? naïve"), ("windows-874", "cp874", "สวัสดี"), ("windows-1253", "cp1253", "Ελληνικά"),
        ("windows-1254", "cp1254", "Türkçe ğış"), ("windows-1255", "cp1255", "שלום עולם"), ("windows-1256", "cp1256", "مرحبا"),
        ("windows-1257", "cp1257", "Ąčęėį šū"), ("windows-1258", "cp1258", "Ơn Ư đ ₫"), ("x-mac-cyrillic", "mac_cyrillic", "Привет мир"),
        ("gb18030", "gb18030", "中文新闻 €"),
    ]
    for label, codec, sample in whatwg:
        doc = rss(item(f"<title>{sample}</title><guid>enc-{label}</guid>"), decl=f'<?xml version="1.0" encoding="{label}"?>')
        add(f"enc-decl-{label}", doc.encode(codec))
    # x-user-defined: bytes 0x80-0xFF are U+F780-U+F7FF (private use); ASCII text reads as ASCII.
    add("enc-decl-x-user-defined", rss(item("<title>User defined</title><guid>enc-xud</guid>"),
        decl='<?xml version="1.0" encoding="x-user-defined"?>').encode())
    # WHATWG maps iso-2022-kr (and hz-gb-2312, csiso2022kr…) to "replacement": not decodable.
    add("enc-decl-iso-2022-kr-ascii", rss(item("<title>Korean label, ASCII text</title><guid>enc-kr</guid>"),
        decl='<?xml version="1.0" encoding="iso-2022-kr"?>').encode())
    # UTF-16 without a byte-order mark: the XML declaration's own bytes tell (XML 1.0, appendix F).
    doc16 = rss(item("<title>UTF-16 sans BOM ü 日本</title><guid>u16nb</guid>"), decl='<?xml version="1.0" encoding="UTF-16"?>')
    add("enc-utf16le-no-bom", doc16.encode("utf-16-le"))
    add("enc-utf16be-no-bom", doc16.encode("utf-16-be"))

    # --- HTTP charset against the document's declaration (RFC 7303 §3; feedparser: RFC 3023) ---
    latin = rss(item("<title>Größe ü</title><guid>http-vs-decl</guid>"), decl='<?xml version="1.0" encoding="iso-8859-1"?>')
    add("http-charset-wins-over-decl", rss(item("<title>Привет</title><guid>hw</guid>"),
        decl='<?xml version="1.0" encoding="iso-8859-1"?>').encode("cp1251"), {"Content-Type": "application/rss+xml; charset=windows-1251"})
    add("http-text-xml-no-charset-decl", latin.encode("latin-1"), {"Content-Type": "text/xml"})
    add("http-charset-wrong-utf8-decl-latin1", latin.encode("latin-1"), {"Content-Type": "application/xml; charset=utf-8"})
    add("http-charset-unknown-label", rss(item("<title>Привет</title><guid>hu</guid>"),
        decl='<?xml version="1.0" encoding="windows-1251"?>').encode("cp1251"), {"Content-Type": "application/xml; charset=x-no-such"})
    add("http-text-html-charset", rss(item("<title>Привет</title><guid>hh</guid>"), decl="").encode("cp1251"),
        {"Content-Type": "text/html; charset=windows-1251"})
    add("http-charset-quoted", rss(item("<title>Größe</title><guid>hq</guid>"), decl='<?xml version="1.0"?>').encode("latin-1"),
        {"Content-Type": 'application/xml; charset="iso-8859-1"'})
    add("http-bom-wins-over-charset", b"\xef\xbb\xbf" + rss(item("<title>Größe BOM</title><guid>hb</guid>")).encode(),
        {"Content-Type": "application/xml; charset=iso-8859-1"})

    # --- RSS in JSON (scripting.com's RSS 2.0 written as JSON) ---
    import json as _json0
    add("rss-in-json", _json0.dumps({"rss": {"version": "2.0", "channel": {
        "title": "RSS in JSON", "link": "https://rj.example/",
        "item": [{"title": "First", "link": "https://rj.example/1", "guid": "https://rj.example/1",
                  "pubDate": "Tue, 02 Jan 2024 03:04:05 GMT"},
                 {"description": "No title, a guid that is not a link.", "guid": {"isPermaLink": "false", "#value": "rj-2"},
                  "pubDate": "Wed, 03 Jan 2024 03:04:05 GMT"}]}}}))

    # --- JSON Feed ---
    import json as _json

    def jf(version, items, **extra):
        return _json.dumps({"version": f"https://jsonfeed.org/version/{version}", "title": "JSON feed",
                            "home_page_url": "https://json.example/", "items": items, **extra})
    add("json10-basic", jf("1", [{"id": "j1", "url": "https://json.example/1", "title": "J1", "content_text": "t",
                                  "date_published": "2024-01-02T03:04:05Z", "date_modified": "2024-01-03T03:04:05Z"}]))
    add("json11-basic", jf("1.1", [{"id": "j2", "url": "https://json.example/2", "title": "J2", "content_html": "<p>h</p>",
                                    "date_published": "2024-01-02T03:04:05+02:00"}]))
    add("json-numeric-id", jf("1", [{"id": 42, "url": "https://json.example/42", "title": "Num"}]))
    add("json-only-content", jf("1.1", [{"id": "oc", "content_text": "Only content, no title. More."}]))
    add("json-relative-url", jf("1.1", [{"id": "rel", "url": "/relative", "title": "Rel"}]))
    add("json-no-id", jf("1.1", [{"url": "https://json.example/noid", "title": "NoId"}]))
    add("json-http-version", _json.dumps({"version": "http://jsonfeed.org/version/1", "title": "Old JSON",
                                          "items": [{"id": "h1", "title": "Http version", "url": "https://json.example/h1"}]}))
    return out
