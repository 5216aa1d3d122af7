"""PowerShell's CLIXML stderr: records kept readable, progress dropped, hostile or broken
XML kept verbatim (never expanded, never lost)."""

from __future__ import annotations

from murano_flow.transports import clixml

NS = 'xmlns="http://schemas.microsoft.com/powershell/2004/04"'


def test_progress_is_dropped_and_streams_are_labelled():
    raw = ("plain line\n#< CLIXML\r\n"
           f'<Objs Version="1.1.0.1" {NS}><Obj S="progress" RefId="0"><MS><PR N="Record">'
           '<AV>Preparing modules for first use.</AV></PR></MS></Obj>'
           '<S S="Error">Access is denied._x000D__x000A_</S>'
           '<S S="Warning">low disk_x000D__x000A_</S></Objs>tail text')
    out = clixml.parse(raw)
    assert out.text == "plain line\nERROR: Access is denied.\nWARNING: low disk\ntail text"
    assert out.errors == ["Access is denied."] and out.dropped == 1


def test_plain_stderr_passes_through():
    assert clixml.parse("just text\n") == clixml.Stderr("just text\n")


def test_broken_or_hostile_xml_is_kept_verbatim_not_expanded():
    broken = "#< CLIXML\r\n<Objs><S S=\"Error\">unclosed</Objs>"
    assert clixml.parse(broken).text == broken and not clixml.parse(broken).errors
    bomb = ('#< CLIXML\r\n<!DOCTYPE Objs [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            f'<Objs {NS}><S S="Error">&b;</S></Objs>')
    out = clixml.parse(bomb)
    assert out.text == bomb and not out.errors  # defusedxml refused the entities
