"""The kept copy of a report's XML: zlib with a preset dictionary, read back a chunk at a time.

Small reports are mostly the same element names: a preset dictionary of them (``DICTIONARY``) makes the
compressed copy of a year of small reports about a quarter smaller. zlib names the dictionary in the
stream's header (its Adler-32), and streams written without one (before this dictionary) inflate with
it supplied all the same, so old rows still read. Never change ``DICTIONARY``: rows written with it
would no longer inflate; a new one needs its own constant, chosen by the header's dictionary id.
"""

from __future__ import annotations

import io
import sqlite3
import zlib

__all__ = ["DICTIONARY", "LEVEL", "Inflating", "compressor"]

LEVEL = 3  # level 3 costs half of level 6's time for 40% more bytes (big reports)

# The elements and values of an aggregate report (RFC 7489, appendix C) in their usual order and
# indentation; zlib looks back from the end, so the most repeated part (records) comes last.
DICTIONARY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n  <version>1.0</version>\n  <report_metadata>\n'
    b'    <org_name></org_name>\n    <email>noreply-dmarc-support@</email>\n    <extra_contact_info>https://'
    b'</extra_contact_info>\n    <report_id></report_id>\n    <date_range>\n      <begin></begin>\n      <end></end>\n'
    b'    </date_range>\n    <error></error>\n  </report_metadata>\n  <policy_published>\n    <domain></domain>\n'
    b'    <adkim>r</adkim>\n    <aspf>r</aspf>\n    <p>none</p>\n    <sp>none</sp>\n    <pct>100</pct>\n    <np>none</np>\n'
    b'    <fo>0</fo>\n  </policy_published>\n  <record>\n    <row>\n      <source_ip></source_ip>\n      <count>1</count>\n'
    b'      <policy_evaluated>\n        <disposition>none</disposition>\n        <dkim>fail</dkim>\n        <spf>fail</spf>\n'
    b'        <reason>\n          <type>forwarded</type>\n          <comment></comment>\n        </reason>\n'
    b'      </policy_evaluated>\n    </row>\n    <identifiers>\n      <envelope_to></envelope_to>\n'
    b'      <envelope_from></envelope_from>\n      <header_from></header_from>\n    </identifiers>\n    <auth_results>\n'
    b'      <dkim>\n        <domain></domain>\n        <selector>selector1</selector>\n        <result>none</result>\n'
    b'        <human_result></human_result>\n      </dkim>\n      <spf>\n        <domain></domain>\n'
    b'        <scope>helo</scope>\n        <result>softfail</result>\n      </spf>\n    </auth_results>\n  </record>\n'
    b'  <record>\n    <row>\n      <source_ip></source_ip>\n      <count>1</count>\n      <policy_evaluated>\n'
    b'        <disposition>none</disposition>\n        <dkim>pass</dkim>\n        <spf>pass</spf>\n'
    b'      </policy_evaluated>\n    </row>\n    <identifiers>\n      <envelope_from></envelope_from>\n'
    b'      <header_from></header_from>\n    </identifiers>\n    <auth_results>\n      <dkim>\n        <domain></domain>\n'
    b'        <selector>google</selector>\n        <result>pass</result>\n      </dkim>\n      <spf>\n'
    b'        <domain></domain>\n        <scope>mfrom</scope>\n        <result>pass</result>\n      </spf>\n'
    b'    </auth_results>\n  </record>\n</feedback>\n')


def compressor() -> zlib._Compress:
    return zlib.compressobj(LEVEL, zdict=DICTIONARY)


class Inflating(io.RawIOBase):
    """Reads a compressed blob as the bytes it holds, a chunk at a time."""

    def __init__(self, blob: sqlite3.Blob) -> None:
        self._blob = blob
        self._zip = zlib.decompressobj(zdict=DICTIONARY)
        self._pending = b""

    def readable(self) -> bool:
        return True

    # BufferedReader hands a bytearray or a memoryview (typeshed: any writable buffer)
    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = self._blob.read(1 << 16)
            if not chunk:
                self._pending = self._zip.flush()
                break
            self._pending = self._zip.decompress(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._blob.close()
        super().close()
