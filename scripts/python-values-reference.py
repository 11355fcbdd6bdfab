"""Writes test/fixtures/python-values.json: the reference for src/executor/python/value.ts.

Each entry is a literal text as a Python program would be answered or judged with: the repr CPython
writes for a value (what the sandbox returns), or another spelling of a value that ast.literal_eval
reads. For every pair of entries the fixture records whether the two values are equal under the
project's rules, computed here with Python's own == on a normalised copy of each value: every bool is
replaced by a tagged tuple (so a bool equals only a bool, also as a set member or dict key) and every
frozenset by a set (set and frozenset compare equal, as in Python). It also records the value as JSON
data where it maps onto it (None, bool, str, int below 2**53 in magnitude, finite float, lists, and
dicts with str keys), as ExecSuccess.value carries it.

Run: python3 scripts/python-values-reference.py > test/fixtures/python-values.json
"""
import ast
import json
import sys

VALUES = [
    None, True, False, 0, 1, -1, 2, 10**20, -(10**20), 2**53, 2**53 + 1, 0.0, -0.0, 1.0, 2.0, -1.5, 0.1,
    1e16, 1e-7, 2.0**53, 1e300, '', 'a', 'A', "it's", 'say "hi"', 'tab\there', 'line\nbreak', 'back\\slash',
    '\x00\x7f', 'é', '\u2028', '😀', '\ud800', b'', b'a', b"it's", b'\x00\xff', [], [1], [1.0], [True], [1, 2],
    [2, 1], (), (1,), (1, 2), [(1, 2)], [[1], [2]], {}, {'a': 1}, {'a': 1.0}, {'a': True}, {1: 'a'},
    {1.0: 'a'}, {True: 'a'}, {'b': 1, 'a': 2}, {'a': 2, 'b': 1}, {(1, 2): [3]}, set(), {1}, {1, 2}, {2, 1},
    {1.0, 2}, {True}, frozenset(), frozenset({1, 2}), frozenset({'a'}), {'k': [1, (2, 3)]}, [None, {'x': set()}],
]

# Other spellings of some of the values above, all read by ast.literal_eval.
SPELLINGS = [
    '"a"', "'a' ", ' ( 1 , ) ', '(1)', '[1,]', '1_000', '0x10', '0o17', '0b101', '-0', '+1', '1.', '.5',
    '5e-1', '1E3', "u'a'", "r'a\\b'", "b'\\x61'", "'\\x61\\u0062\\U00000063'", "'\\141'", '{1: 2,}',
    "{'b': 1, 'a': 2}", '{2, 1, 2}', '{1, 1.0}', 'set()', "'\\N{LATIN SMALL LETTER E WITH ACUTE}'",
    "'a' 'b'", '1j', "'''x'''",
]


def norm(v):
    t = type(v)
    if t is bool:
        return ('bool', v)
    if t is list:
        return [norm(x) for x in v]
    if t is tuple:
        return tuple(norm(x) for x in v)
    if t in (set, frozenset):
        return frozenset(norm(x) for x in v)
    if t is dict:
        return {norm(k): norm(x) for k, x in v.items()}
    return v


def jsonable(v):
    if v is None or type(v) in (bool, str):
        return v
    if type(v) is int:
        if abs(v) >= 2**53:
            raise TypeError
        return v
    if type(v) is float:
        if v != v or v in (float('inf'), float('-inf')):
            raise TypeError
        return v
    if type(v) is list:
        return [jsonable(x) for x in v]
    if type(v) is dict:
        if not all(type(k) is str for k in v):
            raise TypeError
        return {k: jsonable(x) for k, x in v.items()}
    raise TypeError


entries = [{'text': repr(v), 'value': v, 'source': 'repr'} for v in VALUES]
for text in SPELLINGS:
    try:
        entries.append({'text': text, 'value': ast.literal_eval(text), 'source': 'spelling'})
    except (ValueError, SyntaxError):
        entries.append({'text': text, 'value': None, 'unreadable': True, 'source': 'spelling'})

out = []
for e in entries:
    row = {'text': e['text'], 'source': e['source']}
    if e.get('unreadable'):
        row['literal'] = False
    else:
        row['literal'] = True
        row['repr'] = repr(e['value'])
        try:
            row['json'] = jsonable(e['value'])
        except TypeError:
            pass
    out.append(row)

equal = []
for i, a in enumerate(entries):
    equal.append([
        int(not a.get('unreadable') and not b.get('unreadable') and norm(a['value']) == norm(b['value']))
        for b in entries
    ])

json.dump({'python': sys.version.split()[0], 'entries': out, 'equal': equal}, sys.stdout, ensure_ascii=True)
sys.stdout.write('\n')
