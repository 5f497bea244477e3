"""The date a person reads in a feed's date text: the arbiter bench/conformance.py consults when
newshound and feedparser read one date differently (docs/conformance.md, "Dates as a person
reads them").

It is written independently of both parsers and reads only what leaves no doubt, with Python's
standard library at its core:
- ISO 8601 / RFC 3339, basic or extended (`datetime.fromisoformat`); a text of that shape whose
  fields are out of range (month 13) is *no date*;
- `2020/1/10 14:33:00` (year/month/day, as Chinese and Japanese sites write it);
- RFC 822 as `email.utils.parsedate_tz` reads it, after translating month names of the
  languages below into English and dropping day names and the fillers of long forms
  (`16 de noviembre de 2022`); `PM`/`AM` read as a 12-hour clock.
A zone it does not know (email.utils knows UT, GMT, Z and the North American ones), or any other
form, and it does not judge: the disagreement stands.
"""

import email.utils
import re
from datetime import datetime, timezone

# Month names (wide and abbreviated, as CLDR lists them) of German, French, Spanish, Italian,
# Portuguese, Dutch, Swedish, Danish, Norwegian, Polish (nominative and genitive) and Greek.
_MONTHS = {
    1: "jan januar januari janvier janv enero ene gennaio gen janeiro stycznia styczeń sty ιανουαρίου ιανουάριος ιαν",
    2: "feb februar februari février févr fevrier febrero febbraio fevereiro fev lutego luty lut φεβρουαρίου φεβρουάριος φεβ",
    3: "mar märz mär mrz maart mrt mars marts marzo março marca marzec μαρτίου μάρτιος μαρ",
    4: "apr april avril avr abril abr aprile kwietnia kwiecień kwi απριλίου απρίλιος απρ",
    5: "may mai mei maj mayo maggio mag maio maja μαΐου μάιος μάι μαϊ μαι",
    6: "jun juni juin junio giugno giu junho czerwca czerwiec cze ιουνίου ιούνιος ιούν ιουν",
    7: "jul juli juillet juil julio luglio lug julho lipca lipiec lip ιουλίου ιούλιος ιούλ ιουλ",
    8: "aug august augustus augusti août aout agosto ago sierpnia sierpień sie αυγούστου αύγουστος αύγ αυγ",
    9: "sep sept september septembre septiembre settembre set setembro września wrzesień wrz σεπτεμβρίου σεπτέμβριος σεπ",
    10: "oct okt october oktober octobre octubre ottobre ott outubro out października październik paź οκτωβρίου οκτώβριος οκτ",
    11: "nov november novembre noviembre novembro listopada listopad lis νοεμβρίου νοέμβριος νοέ νοε",
    12: "dec dez december dezember décembre déc decembre diciembre dic dicembre dezembro desember des grudnia grudzień gru δεκεμβρίου δεκέμβριος δεκ",
}
MONTH_OF = {name: m for m, names in _MONTHS.items() for name in names.split()}
ENGLISH = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
FILLERS = {"de", "del", "à", "às", "um", "om", "alle", "kl"}
KNOWN_ZONES = {"ut", "utc", "gmt", "z", "ast", "adt", "est", "edt", "cst", "cdt", "mst", "mdt", "pst", "pdt"}

ISO_SHAPE = re.compile(r"^\d{4}-?\d{2}-?\d{2}([T ]|$)")
YMD = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")

UNSURE = (False, None)


def human_date(text):
    """(True, timestamp) for the date a person reads; (True, None) for a text that is plainly
    no valid date; (False, None) when this reader does not judge."""
    if not text or not isinstance(text, str):
        return UNSURE
    t = text.strip()
    if ISO_SHAPE.match(t):
        try:
            d = datetime.fromisoformat(t[:-1] + "+00:00" if t[-1] in "Zz" else t)
        except ValueError:
            return (True, None) if re.match(r"^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d\d:?\d\d)?$", t) else UNSURE
        return True, _ts(d)
    m = YMD.match(t)
    if m:
        y, mo, day, h, mi, sec = (int(x) if x else 0 for x in m.groups())
        try:
            return True, _ts(datetime(y, mo, day, h, mi, sec))
        except ValueError:
            return True, None
    return _rfc822(t)


def _rfc822(t):
    words = t.replace(",", " ").split()
    out, pm = [], None
    seen_number = False
    months = [MONTH_OF.get(w.lower().rstrip(".")) for w in words]
    for i, w in enumerate(words):
        lw = w.lower().rstrip(".")
        if lw in ("am", "pm"):
            pm = lw == "pm"
            continue
        if months[i] and not (not seen_number and any(months[i + 1:])):
            out.append(ENGLISH[months[i] - 1])
        elif lw in FILLERS:
            continue
        elif lw.isalpha() and not seen_number:
            continue  # a day name
        else:
            seen_number |= lw[:1].isdigit()
            out.append(w.rstrip(".") if w[:-1].isdigit() else w)
    zone = out[-1].lower() if out else ""
    if zone.isalpha() and zone not in KNOWN_ZONES and zone.capitalize() not in ENGLISH:
        return UNSURE
    parsed = email.utils.parsedate_tz(" ".join(out))
    if not parsed:
        return UNSURE
    y, mo, day, h, mi, sec = parsed[:6]
    if pm is not None:
        if not 1 <= h <= 12:
            return UNSURE
        h = h % 12 + (12 if pm else 0)
    try:
        d = datetime(y, mo, day, h, mi, sec, tzinfo=timezone.utc)
    except ValueError:
        return True, None
    return True, int(d.timestamp()) - (parsed[9] or 0)


def _ts(d):
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return int(d.timestamp())


if __name__ == "__main__":
    # Self-check: `python3 bench/conformance_dates.py`.
    def iso(text):
        sure, ts = human_date(text)
        return (sure, None if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))

    for text, want in [
        ("2020/1/10 14:33:00", (True, "2020-01-10T14:33:00Z")),
        ("Sat, Dec 16 2023 02:02:33 PM", (True, "2023-12-16T14:02:33Z")),
        ("mer, 16 nov 2022 00:38:15 +0100", (True, "2022-11-15T23:38:15Z")),
        ("Seg, 24 Set 2018 19:42:40 -0300", (True, "2018-09-24T22:42:40Z")),
        ("mar, 01 mar 2022 10:00:00 +0000", (True, "2022-03-01T10:00:00Z")),
        ("20240102T030405Z", (True, "2024-01-02T03:04:05Z")),
        ("2024-13-45T99:99:99Z", (True, None)),
        ("Tue, 02 Jan 2024 03:04:05 JST", (False, None)),
        ("not a date", (False, None)),
    ]:
        assert iso(text) == want, (text, iso(text), want)
    print("ok")
