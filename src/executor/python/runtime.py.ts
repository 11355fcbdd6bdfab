// The Python half of the Python sandbox, run inside Pyodide in the sandbox process. The process boundary
// (permission model, no network, empty environment) is what keeps the host safe; this layer is the
// task policy on top: which modules and names a task program may use, literal-only inputs, repr outputs,
// Python equality, and the determinism check.
export const PYTHON_RUNTIME = String.raw`
import ast, builtins, json, sys

ALLOWED_MODULES = frozenset({
    'math', 'cmath', 'itertools', 'collections', 'functools', 'heapq', 'bisect', 'string', 're',
    'operator', 'typing', 'fractions', 'decimal', 'statistics', 'copy', 'numbers', 'array', 'enum',
    'dataclasses', 'json', 'textwrap', 'unicodedata',
})
# Names that reach outside a pure function, or around this policy. 'random' is refused (not seeded):
# a learnable task must be a function of its input alone.
BANNED_NAMES = frozenset({
    'open', 'eval', 'exec', 'compile', '__import__', 'globals', 'locals', 'vars', 'dir', 'getattr',
    'setattr', 'delattr', 'input', 'breakpoint', 'help', 'exit', 'quit', 'memoryview', 'id',
    'license', 'credits', 'copyright',
})
# str.format and format_map can walk attributes ('{0.__class__}'), which the dunder check cannot see.
BANNED_ATTRS = frozenset({'format', 'format_map', 'mro', 'system', 'popen'})
MAX_DIGITS = 4300

class Refused(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind

def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    root = name.split('.')[0]
    if level != 0 or root not in ALLOWED_MODULES:
        raise Refused('banned', 'import of ' + name + ' is not allowed')
    module = builtins.__import__(name, globals, locals, fromlist, level)
    _snapshot_new()
    return module

SAFE_BUILTINS = {k: v for k, v in builtins.__dict__.items() if k not in BANNED_NAMES and not k.startswith('_')}
SAFE_BUILTINS['__import__'] = _guarded_import
SAFE_BUILTINS['__build_class__'] = builtins.__build_class__

_mutating = False  # set when the program assigns or deletes an attribute: only then can it patch a module

def _policy(tree):
    global _mutating
    imports = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            _mutating = True
        if isinstance(node, ast.Import):
            for a in node.names:
                imports.append(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise Refused('banned', 'relative imports are not allowed')
            imports.append(node.module or '')
        elif isinstance(node, ast.Name) and (node.id in BANNED_NAMES or node.id.startswith('__')):
            raise Refused('banned', 'use of ' + node.id + ' is not allowed')
        elif isinstance(node, ast.Attribute) and (node.attr.startswith('_') or node.attr in BANNED_ATTRS):
            raise Refused('banned', 'attribute .' + node.attr + ' is not allowed')
        elif isinstance(node, (ast.Global, ast.Nonlocal)) and any(n.startswith('__') for n in node.names):
            raise Refused('banned', 'dunder names are not allowed')
        elif isinstance(node, (ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith)):
            raise Refused('banned', 'async code is not allowed')
    for name in imports:
        if name.split('.')[0] not in ALLOWED_MODULES:
            raise Refused('banned', 'import of ' + name + ' is not allowed')
    return imports

def _parse(program):
    try:
        return ast.parse(program, '<program>', 'exec')
    except SyntaxError as e:
        raise Refused('syntax', 'line ' + str(e.lineno) + ': ' + str(e.msg))
    except (ValueError, RecursionError, MemoryError) as e:
        raise Refused('syntax', type(e).__name__ + ': ' + str(e)[:120])

def _top_functions(tree):
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]

def _entry(tree):
    fns = _top_functions(tree)
    if 'f' not in fns:
        raise Refused('no_entry', 'the program defines no top-level function f')
    if len(fns) > 1:
        raise Refused('no_entry', 'define exactly one top-level function, f (found ' + ', '.join(fns) + '); put helpers inside f')

def _load(program):
    tree = _parse(program)
    _policy(tree)
    _entry(tree)
    ns = {'__builtins__': SAFE_BUILTINS, '__name__': '__task__'}
    try:
        code = compile(tree, '<program>', 'exec')
    except SyntaxError as e:  # e.g. a duplicate parameter name: found by the compiler, not the parser
        raise Refused('syntax', 'line ' + str(e.lineno) + ': ' + str(e.msg))
    exec(code, ns)
    f = ns.get('f')
    if not callable(f):
        raise Refused('no_entry', 'f is not a function')
    return f

def _literal(text, what):
    kind = 'bad_input' if what == 'input' else 'syntax'
    try:
        tree = ast.parse(text, '<' + what + '>', 'eval')
    except SyntaxError as e:
        raise Refused(kind, what + ' is not a literal: ' + str(e.msg))
    except (ValueError, RecursionError, MemoryError) as e:
        raise Refused(kind, what + ' is not a literal: ' + type(e).__name__)
    try:
        return ast.literal_eval(tree)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError) as e:
        raise Refused(kind, what + ' is not a literal: ' + str(e)[:120])

def _args(text):
    if text.strip() == '':
        return ()
    value = _literal('(' + text + ',)', 'input')
    return value

def _jsonable(v, depth=0):
    if depth > 100:
        raise TypeError('too deep')
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        if abs(v) >= 2 ** 53:
            raise TypeError('big int')
        return v
    if isinstance(v, float):
        if v != v or v in (float('inf'), float('-inf')):
            raise TypeError('not finite')
        return v
    if isinstance(v, list):
        return [_jsonable(x, depth + 1) for x in v]
    if isinstance(v, dict):
        if not all(isinstance(k, str) for k in v):
            raise TypeError('non-string key')
        return {k: _jsonable(x, depth + 1) for k, x in v.items()}
    raise TypeError('not JSON data')

def _call(f, input_text, limits):
    args = _args(input_text)
    try:
        out = f(*args)
    except Refused:
        raise
    except MemoryError:
        raise Refused('memory', 'MemoryError')
    except RecursionError:
        raise Refused('runtime', 'RecursionError: maximum recursion depth exceeded')
    except Exception as e:
        raise Refused('runtime', (type(e).__name__ + ': ' + str(e))[:200])
    try:
        text = repr(out)
    except Exception as e:
        raise Refused('runtime', 'repr failed: ' + type(e).__name__)
    if len(text) > limits['maxOutputChars']:
        raise Refused('too_large', 'output is ' + str(len(text)) + ' characters, over ' + str(limits['maxOutputChars']))
    if ' object at 0x' in text or ' at 0x' in text:
        raise Refused('nondeterministic', 'the output shows an object address')
    return out, text

def _success(out, text):
    r = {'ok': True, 'output': text}
    try:
        r['value'] = _jsonable(out)
    except (TypeError, ValueError, RecursionError):
        pass
    return r

def op_run(req, limits):
    f = _load(req['program'])
    out, text = _call(f, req['input'], limits)
    return _success(out, text)

def op_check(req, limits):
    runs = max(1, int(req.get('runs') or 2))
    first = None
    for i in range(runs):
        f = _load(req['program'])
        out, text = _call(f, req['input'], limits)
        if first is None:
            first = (out, text)
        elif text != first[1]:
            raise Refused('nondeterministic', 'run ' + str(i + 1) + ' gave a different output')
    return _success(*first)

def op_matches(req, limits):
    expected = _literal(req['expected'], 'expected output')
    f = _load(req['program'])
    out, _ = _call(f, req['input'], limits)
    return {'ok': True, 'equal': _equal(out, expected)}

def _equal(a, b):
    try:
        return bool(a == b)
    except Exception:
        return False

def op_equal(req, limits):
    a = _literal(req['a'], 'value')
    b = _literal(req['b'], 'value')
    return {'ok': True, 'equal': _equal(a, b)}

def op_inspect(req, limits):
    tree = _parse(req['program'])
    imports = _policy(tree)
    return {'ok': True, 'topLevelFunctions': _top_functions(tree), 'imports': imports}

OPS = {'run': op_run, 'check': op_check, 'matches': op_matches, 'equal': op_equal, 'inspect': op_inspect}

# Programs share this interpreter's modules: one that sets math.pi = 3 or patches a class in
# collections must not change the next program's result. Snapshot the allowed modules (their dicts and
# their classes' attributes) as first imported, and put them back after every request.
_snapshots = {}

def _snapshot(name, mod):
    classes = {}
    for v in list(vars(mod).values()):
        if isinstance(v, type) and getattr(v, '__module__', None) == name:
            try:
                classes[v] = dict(vars(v))
            except TypeError:
                pass
    _snapshots[name] = (dict(vars(mod)), classes)

def _snapshot_new():
    # Called at startup and right after each import, before the program can touch what it imported.
    for name, mod in list(sys.modules.items()):
        if mod is not None and name not in _snapshots and name.split('.')[0] in ALLOWED_MODULES:
            _snapshot(name, mod)

def _restore_modules():
    global _mutating
    if not _mutating:
        return  # the program assigned or deleted no attribute: it cannot have patched a module
    _mutating = False
    for name, mod in list(sys.modules.items()):
        if mod is None or name.split('.')[0] not in ALLOWED_MODULES:
            continue
        snap = _snapshots.get(name)
        if snap is None:
            continue
        saved, classes = snap
        current = vars(mod)
        if current != saved:
            current.clear()
            current.update(saved)
        for cls, attrs in classes.items():
            now = vars(cls)
            if len(now) == len(attrs) and all(now.get(k, _restore_modules) is v for k, v in attrs.items()):
                continue
            for k in [k for k in now if k not in attrs]:
                try:
                    delattr(cls, k)
                except (AttributeError, TypeError):
                    pass
            for k, v in attrs.items():
                if now.get(k, _restore_modules) is not v:
                    try:
                        setattr(cls, k, v)
                    except (AttributeError, TypeError):
                        pass

_snapshot_new()

def handle(request_json, limits_json):
    req = json.loads(request_json)
    limits = json.loads(limits_json)
    sys.set_int_max_str_digits(MAX_DIGITS)
    try:
        r = OPS[req['op']](req, limits)
    except Refused as e:
        r = {'ok': False, 'kind': e.kind, 'message': str(e)[:300]}
    except MemoryError:
        r = {'ok': False, 'kind': 'memory', 'message': 'MemoryError'}
    except RecursionError:
        r = {'ok': False, 'kind': 'runtime', 'message': 'RecursionError'}
    except Exception as e:
        r = {'ok': False, 'kind': 'runtime', 'message': (type(e).__name__ + ': ' + str(e))[:200]}
    _restore_modules()
    return json.dumps(r)
`;
