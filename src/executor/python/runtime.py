# The Python half of the Python sandbox, run inside Pyodide in the sandbox process. The process boundary
# (permission model, no network, empty environment) is what keeps the host safe; this layer is the
# task policy on top: which modules and names a task program may use, literal-only inputs, repr outputs,
# Python equality, and the determinism check.
import _string, abc, ast, builtins, json, sys

ALLOWED_MODULES = frozenset({
    'math', 'cmath', 'itertools', 'collections', 'functools', 'heapq', 'bisect', 'string', 're',
    'operator', 'typing', 'fractions', 'decimal', 'statistics', 'copy', 'numbers', 'array', 'enum',
    'dataclasses', 'json', 'textwrap', 'unicodedata',
})
# Names that reach outside a pure function, or around this policy. 'random' is refused rather than
# seeded: a learnable task must be a function of its input alone, and a seeded generator would make
# the output depend on how many draws earlier code made.
BANNED_NAMES = frozenset({
    'open', 'eval', 'exec', 'compile', '__import__', 'globals', 'locals', 'vars', 'dir', 'getattr',
    'setattr', 'delattr', 'input', 'breakpoint', 'help', 'exit', 'quit', 'memoryview', 'id',
    'license', 'credits', 'copyright',
})
# Attribute names refused wherever they appear.
BANNED_ATTRS = frozenset({'mro', 'system', 'popen', 'evaluate'})
# str.format and format_map walk attributes named in a string ('{0.__class__}'), which the dunder
# check cannot see. Reading them is rewritten into a call of _format_attr, which gives str's own method
# behind a check of every field of the format string at call time; on anything but a str (UserString
# forwards to an unchecked str.format) they stay refused. Storing or deleting them is refused.
FORMAT_ATTRS = frozenset({'format', 'format_map'})
# Frames, code objects and tracebacks (gen.gi_frame.f_back.f_globals reaches this runtime's globals).
BANNED_ATTR_PREFIXES = ('gi_', 'cr_', 'ag_', 'f_', 'tb_', 'co_')
# Members of allowed modules that look attributes up by a name in a string, or evaluate strings as
# code: hidden from programs and refused by name.
HIDDEN = {
    'operator': frozenset({'attrgetter', 'methodcaller'}),
    'string': frozenset({'Formatter'}),
    'typing': frozenset({'get_type_hints', 'ForwardRef', 'evaluate_forward_ref', 'get_annotations'}),
}
HIDDEN_NAMES = frozenset().union(*HIDDEN.values())
# Calls that change a class or interpreter state without an attribute assignment in the program text
# (update_wrapper(Counter, g), Sequence.register(int), getcontext().prec): after a program that uses
# one, shared state is checked and put back.
MUTATORS = {
    **dict.fromkeys(('update_wrapper', 'wraps', 'dataclass', 'total_ordering', 'final',
                     'runtime_checkable', 'no_type_check'), 'classes'),
    'register': 'abc',
    **dict.fromkeys(('decimal', 'getcontext', 'setcontext', 'localcontext', 'DefaultContext',
                     'BasicContext', 'ExtendedContext'), 'decimal'),
}
MAX_DIGITS = 4300

class Refused(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind

# Programs never see a real module: an import hands out a view, a module object holding the module's
# public members, with modules outside the allow-list (typing.sys, statistics.random,
# dataclasses.inspect) and HIDDEN members left out, and submodules replaced by their views. Views are
# shared between programs and put back after any program that could have changed one.
_ModuleType = type(ast)
_MISSING = object()
_views = {}        # module name -> its view
_view_saved = {}   # module name -> the view's dict as built
_class_saved = {}  # class found in an allowed module -> its attributes as first seen
_abc_saved = {}    # abstract base class -> the classes registered with it as first seen
_decimal_default = None  # decimal's default context settings, read when decimal is first imported
_view_classes = {}  # module name -> the patchable classes its view exposes
_reach = {}         # module name -> (names of views reachable from its view, their classes)
_imported = set()   # names of the views the current program imported

def _allowed_module(mod):
    return str(getattr(mod, '__name__', '')).split('.')[0] in ALLOWED_MODULES

def _remember_class(cls, classes):
    if cls.__flags__ & 256:  # Py_TPFLAGS_IMMUTABLETYPE: builtins and C types cannot be patched
        return
    classes.add(cls)
    if cls in _class_saved:
        return
    try:
        # __name__, __qualname__ and __bases__ live outside the class dict (update_wrapper sets them).
        _class_saved[cls] = (_Saved(vars(cls)), (cls.__name__, cls.__qualname__, cls.__bases__))
    except TypeError:
        return
    if isinstance(cls, abc.ABCMeta):
        _abc_saved[cls] = set(abc._get_dump(cls)[0])

def _view(mod):
    name = mod.__name__
    view = _views.get(name)
    if view is not None:
        return view
    view = _ModuleType(name)
    _views[name] = view  # before the members: modules can refer to each other
    hidden = HIDDEN.get(name, ())
    members = {}
    classes = set()
    for k, v in list(vars(mod).items()):
        if k.startswith('_') or k in hidden:
            continue
        if isinstance(v, _ModuleType):
            if not _allowed_module(v):
                continue
            v = _view(v)
        else:
            # The class itself, and the class of any member (a metaclass, typing's private alias types).
            if isinstance(v, type):
                _remember_class(v, classes)
            _remember_class(type(v), classes)
        members[k] = v
    _view_classes[name] = classes
    vars(view).update(members)
    _view_saved[name] = _Saved(vars(view))
    if name == 'decimal':
        global _decimal_default  # the context settings before any program could change them
        _decimal_default = mod.Context(prec=mod.DefaultContext.prec, rounding=mod.DefaultContext.rounding,
                                       Emin=mod.DefaultContext.Emin, Emax=mod.DefaultContext.Emax,
                                       capitals=mod.DefaultContext.capitals, clamp=mod.DefaultContext.clamp,
                                       flags=[], traps=[t for t, on in mod.DefaultContext.traps.items() if on])
    return view

def _add_submodules(name):
    # 'import collections.abc' after 'import collections': the parent's view gains the child.
    parts = name.split('.')
    for i in range(1, len(parts)):
        parent, child = sys.modules.get('.'.join(parts[:i])), sys.modules.get('.'.join(parts[:i + 1]))
        if parent is None or child is None:
            return
        pv = _view(parent)
        if parts[i] not in vars(pv):
            vars(pv)[parts[i]] = _view(child)
            _view_saved[parent.__name__] = _Saved(vars(pv))
            _reach.clear()

def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    root = name.split('.')[0]
    if level != 0 or root not in ALLOWED_MODULES:
        raise Refused('banned', 'import of ' + name + ' is not allowed')
    module = builtins.__import__(name, None, None, fromlist, 0)
    _add_submodules(name)
    view = _view(module)
    _imported.add(view.__name__)
    return view

def _reachable(name):
    # Views and classes a program can get to from one imported view (cached: views do not grow
    # except by _add_submodules, which clears the cache).
    r = _reach.get(name)
    if r is None:
        names, stack = set(), [name]
        while stack:
            n = stack.pop()
            if n in names:
                continue
            names.add(n)
            stack.extend(v.__name__ for v in _view_saved[n].items.values() if isinstance(v, _ModuleType))
        classes = set()
        for n in names:
            classes |= _view_classes[n]
        r = _reach[name] = (names, classes)
    return r

SAFE_BUILTINS = {k: v for k, v in builtins.__dict__.items() if k not in BANNED_NAMES and not k.startswith('_')}
SAFE_BUILTINS['__import__'] = _guarded_import
SAFE_BUILTINS['__build_class__'] = builtins.__build_class__

# What the current program could have changed in shared state ('classes', 'abc', 'decimal'): only
# that is checked and put back after it.
_touched = set()

def _bad_attr(name):
    return (name.startswith('_') or name in BANNED_ATTRS or name in HIDDEN_NAMES
            or name.startswith(BANNED_ATTR_PREFIXES))

def _nodes(tree):
    # Every node of the tree, in ast.walk's order (breadth first), as one list: the policy reads it
    # several times, and ast.walk's generators cost about as much as the checks themselves.
    AST = ast.AST
    out = [tree]
    for node in out:  # the list grows while it is read
        for name in node._fields:
            v = getattr(node, name, None)
            if isinstance(v, list):
                for x in v:
                    if isinstance(x, AST):
                        out.append(x)
            elif isinstance(v, AST):
                out.append(v)
    return out

# The node types each pass looks at; the others are skipped by exact type (ast.parse makes no
# subclasses), which is most of a tree (names loaded, constants, operators, contexts).
_ANNOTATED_TYPES = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.AnnAssign})
_BINDING_TYPES = frozenset({ast.arg, ast.Name, ast.FunctionDef, ast.ClassDef})
_POLICY_TYPES = frozenset({ast.Import, ast.ImportFrom, ast.Name, ast.Attribute, ast.MatchClass, ast.Global,
                           ast.Nonlocal, ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith})

def _annotations(nodes):
    for node in nodes:
        if type(node) not in _ANNOTATED_TYPES:
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
                if a is not None and a.annotation is not None:
                    yield a.annotation
            if getattr(node, 'returns', None) is not None:
                yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation

def _bound_names(nodes):
    # Names the program itself binds (parameters, assignment and loop targets, nested defs). A banned
    # builtin name bound here is the program's own variable (def f(input): ...): SAFE_BUILTINS lacks
    # every banned name, so a use of it that does not see the binding is a NameError, never the builtin.
    names = set()
    for node in nodes:
        if type(node) not in _BINDING_TYPES:
            continue
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names

def _policy(tree):
    # The imports, what shared state running the program could change (see _touched), and whether it
    # reads a .format or .format_map attribute (which _FormatRewrite rewrites); or Refused.
    imports = []
    touched = set()
    formats = False
    nodes = _nodes(tree)
    bound = _bound_names(nodes)
    for node in nodes:
        if type(node) not in _POLICY_TYPES:
            continue
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            touched.add('classes')
        if isinstance(node, ast.Import):
            for a in node.names:
                imports.append(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise Refused('banned', 'relative imports are not allowed')
            imports.append(node.module or '')
            for a in node.names:
                if a.name == '*' or _bad_attr(a.name) or a.name in BANNED_NAMES:
                    raise Refused('banned', 'importing ' + a.name + ' is not allowed')
                if a.name in MUTATORS:
                    touched.add(MUTATORS[a.name])
        elif isinstance(node, ast.Name):
            if node.id in HIDDEN_NAMES or (node.id.startswith('__') and node.id.strip('_')):
                raise Refused('banned', 'use of ' + node.id + ' is not allowed')
            if node.id in BANNED_NAMES and node.id not in bound:
                raise Refused('banned', 'use of ' + node.id + ' is not allowed')
            if node.id in MUTATORS:
                touched.add(MUTATORS[node.id])
        elif isinstance(node, ast.Attribute):
            if node.attr in FORMAT_ATTRS and not isinstance(node.ctx, ast.Load):
                raise Refused('banned', 'attribute .' + node.attr + ' is not allowed')
            if _bad_attr(node.attr):
                raise Refused('banned', 'attribute .' + node.attr + ' is not allowed')
            if node.attr in MUTATORS:
                touched.add(MUTATORS[node.attr])
            if node.attr in FORMAT_ATTRS:
                formats = True
        elif isinstance(node, ast.MatchClass):
            # case C(attr=pattern) reads an attribute by name: the same rules as obj.attr.
            for k in node.kwd_attrs:
                if _bad_attr(k) or k in FORMAT_ATTRS:
                    raise Refused('banned', 'attribute .' + k + ' is not allowed')
        elif isinstance(node, (ast.Global, ast.Nonlocal)) and any(n.startswith('__') for n in node.names):
            raise Refused('banned', 'dunder names are not allowed')
        elif isinstance(node, (ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith)):
            raise Refused('banned', 'async code is not allowed')
    # A string annotation is code that typing and functools evaluate later, out of this check's sight.
    for ann in _annotations(nodes):
        for node in _nodes(ann):
            if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
                raise Refused('banned', 'string annotations are not allowed')
    for name in imports:
        if name.split('.')[0] not in ALLOWED_MODULES:
            raise Refused('banned', 'import of ' + name + ' is not allowed')
    return imports, touched, formats

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

def _check_format_string(text, depth=0):
    if depth > 2:
        raise ValueError('Max string recursion exceeded')
    for _literal_text, field, spec, _conversion in _string.formatter_parser(text):
        if field is not None:
            _first, rest = _string.formatter_field_name_split(field)
            for is_attr, key in rest:
                if is_attr and (_bad_attr(key) or key in FORMAT_ATTRS):
                    raise Refused('banned', 'attribute .' + key + ' in a format string is not allowed')
        if spec:
            _check_format_string(spec, depth + 1)

_str_format = str.format
_str_format_map = str.format_map

def _safe_format(template, *args, **kwargs):
    if not isinstance(template, str):
        raise TypeError("descriptor 'format' requires a 'str' object")
    _check_format_string(template)
    return _str_format(template, *args, **kwargs)

def _safe_format_map(template, mapping):
    if not isinstance(template, str):
        raise TypeError("descriptor 'format_map' requires a 'str' object")
    _check_format_string(template)
    return _str_format_map(template, mapping)

_SAFE_FORMAT = {'format': _safe_format, 'format_map': _safe_format_map}

def _format_attr(obj, name):
    safe = _SAFE_FORMAT[name]
    if isinstance(obj, str):
        return lambda *args, **kwargs: safe(obj, *args, **kwargs)
    if obj is str:
        return safe
    raise Refused('banned', 'attribute .' + name + ' is allowed on str only')

class _FormatRewrite(ast.NodeTransformer):
    # obj.format -> _format_attr(obj, 'format'), wherever it is read (calls, map(str.format, ...)). The
    # name is a dunder so that class bodies do not mangle it, and the policy refuses it in programs.
    def visit_Attribute(self, node):
        self.generic_visit(node)
        if node.attr in FORMAT_ATTRS and isinstance(node.ctx, ast.Load):
            call = ast.Call(func=ast.Name(id='__azr_format__', ctx=ast.Load()),
                            args=[node.value, ast.Constant(value=node.attr)], keywords=[])
            return ast.copy_location(call, node)
        return node

# Compiled programs by their exact text, with what running them could change in shared state. A code
# object is immutable and programs cannot reach it (dunder attributes, getattr and vars are refused), so
# running one twice is the same as compiling it twice; every run still gets a fresh namespace. This
# saves the parse, policy and compile of a check's second run and of a program seen again.
_compiled = {}
_COMPILED_MAX = 128

def _compile(program):
    hit = _compiled.get(program)
    if hit is not None:
        return hit
    tree = _parse(program)
    _imports, touched, formats = _policy(tree)
    _entry(tree)
    if formats:  # a parsed tree has every location: only a rewritten one needs them filled in
        tree = ast.fix_missing_locations(_FormatRewrite().visit(tree))
    try:
        code = compile(tree, '<program>', 'exec')
    except SyntaxError as e:  # e.g. a duplicate parameter name: found by the compiler, not the parser
        raise Refused('syntax', 'line ' + str(e.lineno) + ': ' + str(e.msg))
    if len(_compiled) >= _COMPILED_MAX:
        del _compiled[next(iter(_compiled))]
    hit = _compiled[program] = (code, frozenset(touched))
    return hit

def _load(program):
    code, touched = _compile(program)
    _touched.update(touched)
    ns = {'__builtins__': SAFE_BUILTINS, '__name__': '__task__', '__azr_format__': _format_attr}
    exec(code, ns)
    f = ns.get('f')
    if not callable(f):
        raise Refused('no_entry', 'f is not a function')
    return f

def _literal_tree(text, what):
    kind = 'bad_input' if what == 'input' else 'syntax'
    try:
        return ast.parse(text, '<' + what + '>', 'eval')
    except SyntaxError as e:
        raise Refused(kind, what + ' is not a literal: ' + str(e.msg))
    except (ValueError, RecursionError, MemoryError) as e:
        raise Refused(kind, what + ' is not a literal: ' + type(e).__name__)

def _literal_value(tree, what):
    # New objects on every call: a tree can be read again for a run that must not see an earlier
    # run's changes to its arguments.
    kind = 'bad_input' if what == 'input' else 'syntax'
    try:
        return ast.literal_eval(tree)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError) as e:
        raise Refused(kind, what + ' is not a literal: ' + str(e)[:120])

def _literal(text, what):
    return _literal_value(_literal_tree(text, what), what)

def _input_tree(text):
    if text.strip() == '':
        return None
    return _literal_tree('(' + text + ',)', 'input')

def _input_args(tree):
    return () if tree is None else _literal_value(tree, 'input')

def _args(text):
    return _input_args(_input_tree(text))

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

def _call(f, args, limits):
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
    out, text = _call(f, _args(req['input']), limits)
    return _success(out, text)

def op_check(req, limits):
    runs = max(1, int(req.get('runs') or 2))
    first = None
    shifted = None
    tree = None
    for i in range(runs):
        f = _load(req['program'])  # the second run's load is a lookup in _compiled
        if i == 0:
            tree = _input_tree(req['input'])  # parsed once; each run gets new argument objects
        out, text = _call(f, _input_args(tree), limits)
        if first is None:
            first = (out, text)
            shifted = _shift_heap()
        elif text != first[1]:
            raise Refused('nondeterministic', 'run ' + str(i + 1) + ' gave a different output')
    del shifted
    return _success(*first)

def op_matches(req, limits):
    expected = _literal(req['expected'], 'expected output')
    f = _load(req['program'])
    out, _ = _call(f, _args(req['input']), limits)
    return {'ok': True, 'equal': _equal(out, expected)}

def _equal(a, b):
    try:
        return _same(a, b)
    except Exception:
        return False

def _same(a, b):
    # bool is an int subclass, so False == 0 and True == 1: a solver that answers False would pass
    # every task whose output is 0 (self-play runs learned exactly that). A bool equals only a bool;
    # ints and floats still compare by value (1 == 1.0), as in JavaScript's single number type. Set
    # members and dict keys still compare by Python's hashing ({True} == {1}): pairing them needs a search.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if type(a) in (list, tuple) and type(b) is type(a):
        return len(a) == len(b) and all(map(_same, a, b))
    if type(a) is dict and type(b) is dict:
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    return bool(a == b)

def op_equal(req, limits):
    a = _literal(req['a'], 'value')
    b = _literal(req['b'], 'value')
    return {'ok': True, 'equal': _equal(a, b)}

def op_inspect(req, limits):
    tree = _parse(req['program'])
    imports = _policy(tree)[0]
    return {'ok': True, 'topLevelFunctions': _top_functions(tree), 'imports': imports}

# A program's normal form, for telling programs apart (a proposer that repeats a program it was shown
# with another input has not made a new task): parsed, never compiled or run; docstrings dropped; every
# name the program binds itself (parameters, assignment, loop, `with` and comprehension targets, nested
# functions and classes, exception and match captures) renamed v0, v1, ... in the order of its first
# binding in the source; then unparsed. So comments, layout, docstrings and the choice of local names do
# not count, while f, builtins (len vs sorted), attributes, constants and names bound by imports do.
_BINDING_SCOPES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

def _bound_name(node):
    # The name a node binds, if it binds one the normal form may rename.
    if isinstance(node, ast.arg):
        return node.arg
    if isinstance(node, ast.Name):
        return node.id if not isinstance(node.ctx, ast.Load) else None
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
        return node.name
    if isinstance(node, ast.MatchMapping):
        return node.rest
    return None

def _normal_form(program):
    tree = _parse(program)
    for node in _nodes(tree):
        if isinstance(node, _BINDING_SCOPES):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
    # First bindings in source order: a depth-first walk over each node's fields in their order.
    first, imported, stack = {}, set(), [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.alias):
            imported.add(node.asname or node.name.split('.')[0])
        name = _bound_name(node)
        if name is not None and name != 'f':
            first.setdefault(name, len(first))
        stack.extend(reversed(list(ast.iter_child_nodes(node))))
    names = [n for n in sorted(first, key=first.get) if n not in imported]
    new = {n: 'v' + str(i) for i, n in enumerate(names)}
    for node in _nodes(tree):
        if isinstance(node, ast.Name):
            node.id = new.get(node.id, node.id)
        elif isinstance(node, ast.arg):
            node.arg = new.get(node.arg, node.arg)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            node.names = [new.get(n, n) for n in node.names]
        elif isinstance(node, ast.MatchMapping):
            node.rest = new.get(node.rest, node.rest)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler,
                               ast.MatchAs, ast.MatchStar)):
            node.name = new.get(node.name, node.name)
    return ast.unparse(tree)

def op_normalize(req, limits):
    return {'ok': True, 'program': _normal_form(req['program'])}

OPS = {'run': op_run, 'check': op_check, 'matches': op_matches, 'equal': op_equal, 'inspect': op_inspect,
       'normalize': op_normalize}

# Programs share this interpreter: one that sets math.pi = 3, patches a class in collections,
# registers int as a Sequence or changes the decimal context must not change the next program's
# result. After a program that could have done so, put the views, classes, ABC registries and the
# decimal context back as first seen (identity comparisons only: no program code runs here).
class _Saved:
    # A namespace as first seen, with what a fast identity check needs: its keys in order and the ids
    # of its values (the saved dict keeps those objects alive, so the ids stay theirs). No program code
    # runs in the check: no __eq__ is called.
    __slots__ = ('items', 'keys', 'ids')

    def __init__(self, namespace):
        self.items = dict(namespace)
        self.keys = tuple(self.items)
        self.ids = tuple(map(id, self.items.values()))

    def same(self, namespace):
        return tuple(map(id, namespace.values())) == self.ids and tuple(namespace) == self.keys

def _restore_class(cls, saved):
    attrs, (name, qualname, bases) = saved
    for k, v in (('__name__', name), ('__qualname__', qualname), ('__bases__', bases)):
        if getattr(cls, k) is not v:
            try:
                setattr(cls, k, v)
            except (AttributeError, TypeError):
                pass
    now = vars(cls)
    if attrs.same(now):
        return
    for k in [k for k in now if k not in attrs.items]:
        try:
            delattr(cls, k)
        except (AttributeError, TypeError):
            pass
    for k, v in attrs.items.items():
        if now.get(k, _MISSING) is not v:
            try:
                setattr(cls, k, v)
            except (AttributeError, TypeError):
                pass

def _restore_state():
    if not _touched:
        return  # nothing in the program could have changed shared state
    if 'classes' in _touched and _imported:
        # Only what this program's imports reach: a program that imports nothing sees no shared
        # class (builtin types cannot be patched).
        names, classes = set(), set()
        for n in _imported:
            more_names, more_classes = _reachable(n)
            names |= more_names
            classes |= more_classes
        for name in names:
            saved = _view_saved[name]
            now = vars(_views[name])
            if not saved.same(now):
                now.clear()
                now.update(saved.items)
        for cls in classes:
            _restore_class(cls, _class_saved[cls])
    if 'abc' in _touched:
        for cls, registered in _abc_saved.items():
            if set(abc._get_dump(cls)[0]) != registered:
                cls._abc_registry_clear()
                for ref in registered:
                    sub = ref()
                    if sub is not None:
                        cls.register(sub)
                cls._abc_caches_clear()
    if 'decimal' in _touched and _decimal_default is not None:
        decimal = sys.modules['decimal']
        d = decimal.DefaultContext
        for k in ('prec', 'rounding', 'Emin', 'Emax', 'capitals', 'clamp'):
            setattr(d, k, getattr(_decimal_default, k))
        d.traps = dict(_decimal_default.traps)
        d.flags = dict(_decimal_default.flags)
        decimal.setcontext(decimal.Context())
    _touched.clear()
    _imported.clear()

# Addresses decide hash(object()) and the order of sets of objects, and a second run in a quiet heap
# reuses the first run's addresses. Between runs of a check, hold a spread of small allocations so the
# second run lands elsewhere and identity-dependent output shows up as a disagreement.
# The same allocations as a loop over the sizes, made by map in C: a third of the time in Pyodide.
_SHIFT_BYTES = tuple(n for n in range(0, 512, 8) for _ in range(3))
_SHIFT_LISTS = tuple(range(1, 40))
_NONE = [None]

def _shift_heap():
    return list(map(bytes, _SHIFT_BYTES)) + [_NONE * n for n in _SHIFT_LISTS]

# Modules that reach JavaScript (and through it the host's Node) or emulate sockets. The host calls this
# after a memory snapshot is taken, since a snapshot's bootstrap needs them, and every instance started
# from the snapshot calls it again. The process boundary holds regardless.
BRIDGE_MODULES = ('js', 'pyodide_js', 'pyodide.ffi', 'pyodide.code', '_pyodide_core', 'socket', '_socket',
                  'ctypes', '_ctypes', 'select', 'ssl')

def cut_bridges():
    for name in BRIDGE_MODULES:
        sys.modules[name] = None

def handle(request_json, limits_json):
    req = json.loads(request_json)
    limits = json.loads(limits_json)
    sys.set_int_max_str_digits(MAX_DIGITS)
    _touched.clear()
    _imported.clear()
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
    _restore_state()
    return json.dumps(r)
