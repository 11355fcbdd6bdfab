# The Python half of the Python sandbox, run inside Pyodide in the sandbox process. What keeps the host
# safe is outside this file: the interpreter's JavaScript realm holds nothing of the host (realm.ts) and
# the process is confined (spawn.ts). This layer is the task policy on top: which modules and names a
# task program may use (a deny-list, the first layer, known to have gaps), literal-only inputs, outputs
# as plain values, the determinism check, and keeping one program from changing what the next one sees.
#
# Verdicts are not decided here. A program's result leaves as the canonical text of a plain value (exact
# built-in types only, `not_a_value` otherwise) and the host compares texts, so no object a program made
# takes part in a comparison, and expected outputs never enter this interpreter.
import _string, abc, ast, builtins, itertools, json, sys

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
# Values a program may return: exact built-in types, checked by identity (`type(x) is T`), never by
# isinstance or set membership (a subclass carries methods the program wrote, and a metaclass can make
# a class hash and compare equal to int).
_MAX_VALUE_DEPTH = 100

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
_is = __import__('operator').is_
_views = {}        # module name -> its view
_view_saved = {}   # module name -> the view's dict as built
_class_saved = {}  # class found in an allowed module -> its attributes as first seen
_abc_saved = {}    # abstract base class -> the classes registered with it as first seen
_decimal_default = []  # decimal's default context settings, read when decimal is first imported
_view_classes = {}  # module name -> the patchable classes its view exposes
_reach = {}         # module name -> (names of views reachable from its view, their classes)
_imported = set()   # names of the views the current program imported
_views_sealed = False  # True once every view is made (_preload)

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
        _abc_saved[cls] = frozenset(abc._get_dump(cls)[0])

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
    _view_classes[name] = frozenset(classes)
    vars(view).update(members)
    _view_saved[name] = _Saved(vars(view))
    if name == 'decimal':
        _decimal_default.append(mod.Context(prec=mod.DefaultContext.prec, rounding=mod.DefaultContext.rounding,
                                       Emin=mod.DefaultContext.Emin, Emax=mod.DefaultContext.Emax,
                                       capitals=mod.DefaultContext.capitals, clamp=mod.DefaultContext.clamp,
                                       flags=[], traps=[t for t, on in mod.DefaultContext.traps.items() if on]))
    return view

def _add_submodules(name):
    # 'import collections.abc' after 'import collections': the parent's view gains the child. Only
    # while the views are made (_preload): after that they and their saved state are fixed.
    if _views_sealed:
        return
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
    parts = name.split('.')
    if level != 0 or parts[0] not in ALLOWED_MODULES or any(p.startswith('_') for p in parts):
        raise Refused('banned', 'import of ' + name + ' is not allowed')
    if _views_sealed and name not in _views:
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
            stack.extend(v.__name__ for v in _view_saved[n][1] if isinstance(v, _ModuleType))
        classes = set()
        for n in names:
            classes |= _view_classes[n]
        r = _reach[name] = (frozenset(names), frozenset(classes))
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
                           ast.Nonlocal, ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith,
                           ast.Constant, ast.ClassDef, ast.Call})

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
        elif isinstance(node, ast.Constant):
            # An attribute name held in a string ('__match_args__' in a class namespace, '__class__'
            # passed to a pattern) is how the name checks above are walked around.
            v = node.value
            if type(v) is str and len(v) > 4 and v[:2] == '__' and v[-2:] == '__':
                raise Refused('banned', 'dunder names in strings are not allowed')
        elif isinstance(node, ast.ClassDef):
            # A metaclass decides what isinstance and class patterns do, and reads names from strings.
            if node.keywords or any(isinstance(b, ast.Name) and b.id == 'type' for b in node.bases):
                raise Refused('banned', 'metaclasses are not allowed')
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id == 'type' and len(node.args) + len(node.keywords) > 1:
                raise Refused('banned', 'creating classes with type() is not allowed')
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

_type_name = type.__dict__['__name__'].__get__  # a type's own name, past any metaclass

def _plain(v, depth, open_ids):
    # Refuses anything but a value of exact built-in types, without calling a method of anything it
    # is given: only type() and iteration over exact built-in containers.
    t = type(v)
    if t is str or t is int or t is bool or t is _NoneType or t is bytes:
        return
    if t is float:
        if v != v or v == _INF or v == -_INF:
            raise Refused('not_a_value', 'f returned ' + repr(v) + ', a float with no literal form')
        return
    if depth > _MAX_VALUE_DEPTH:
        raise Refused('not_a_value', 'f returned a value nested deeper than ' + str(_MAX_VALUE_DEPTH))
    if t is list or t is tuple or t is dict or t is set or t is frozenset:
        # The containers open above this one, compared by identity (a value that contains itself).
        if any(map(_is, open_ids, _repeat(v, depth))):
            raise Refused('not_a_value', 'f returned a value that contains itself')
        open_ids.append(v)
        if t is dict:
            for k, x in v.items():
                _plain(k, depth + 1, open_ids)
                _plain(x, depth + 1, open_ids)
        else:
            for x in v:
                _plain(x, depth + 1, open_ids)
        open_ids.pop()
        return
    raise Refused('not_a_value', 'f returned an object of type ' + _type_name(t) + ', not a value of built-in'
                  ' types (int, float, str, bool, None, bytes, list, tuple, dict, set, frozenset)')

_INF = float('inf')
_NoneType = type(None)
_BUILTIN_EXCEPTIONS = tuple(v for v in vars(builtins).values() if isinstance(v, type) and issubclass(v, BaseException))
_repeat = itertools.repeat

def _value_text(v, limits):
    # The canonical text of a plain value: its repr, which on exact built-in types runs no program code.
    _plain(v, 0, [])
    text = repr(v)
    if len(text) > limits['maxOutputChars']:
        raise Refused('too_large', 'output is ' + str(len(text)) + ' characters, over ' + str(limits['maxOutputChars']))
    return text

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
        raise Refused('runtime', (_type_name(type(e)) + ': ' + _message(e))[:200])
    return _value_text(out, limits)

def _message(e):
    # str() of an exception class the program defined would run its code; only built-in ones are asked.
    if any(map(_is, _BUILTIN_EXCEPTIONS, _repeat(type(e)))):
        try:
            return str(e)
        except Exception:
            return ''
    return ''

def op_run(req, limits):
    f = _load(req['program'])
    return {'ok': True, 'output': _call(f, _args(req['input']), limits)}

def op_check(req, limits):
    runs = max(1, int(req.get('runs') or 2))
    first = None
    shifted = None
    tree = None
    for i in range(runs):
        f = _load(req['program'])  # the second run's load is a lookup in _compiled
        if i == 0:
            tree = _input_tree(req['input'])  # parsed once; each run gets new argument objects
        text = _call(f, _input_args(tree), limits)
        if first is None:
            first = text
            shifted = _shift_heap()
        elif text != first:
            raise Refused('nondeterministic', 'run ' + str(i + 1) + ' gave a different output')
    del shifted
    return {'ok': True, 'output': first}

def op_literal(req, limits):
    # The canonical text of a literal (an answer, an expected output) for the host's comparison, when the
    # host's own reader does not take its spelling. Runs no program code.
    return {'ok': True, 'output': _value_text(_literal(req['text'], 'value'), limits)}

def op_inspect(req, limits):
    tree = _parse(req['program'])
    imports = _policy(tree)[0]
    return {'ok': True, 'topLevelFunctions': _top_functions(tree), 'imports': imports}

OPS = {'run': op_run, 'check': op_check, 'literal': op_literal, 'inspect': op_inspect}

# Programs share this interpreter: one that sets math.pi = 3, patches a class in collections,
# registers int as a Sequence or changes the decimal context must not change the next program's
# result. After each program, put the module views it imported back as first seen, and after a program
# whose text could have changed them, the classes, ABC registries and the decimal context (identity
# comparisons only: no program code runs here). A program that escaped the name checks and changed what
# the runtime itself uses is caught by the integrity check below, which retires the sandbox.
class _Saved(tuple):
    # A namespace as first seen: (keys, values). A tuple, so that nothing holding it can change it. The
    # check compares identities with operator.is_ in C: no __eq__ is called, and no id(), which the
    # audit hook would hear about once per object.
    __slots__ = ()

    def __new__(cls, namespace):
        items = dict(namespace)
        return tuple.__new__(cls, (tuple(items), tuple(items.values())))

    def items(self):
        return dict(zip(self[0], self[1]))

    def same(self, namespace):
        return (len(namespace) == len(self[0]) and all(map(_is, namespace.values(), self[1]))
                and all(map(_is, namespace, self[0])))

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
    first = attrs.items()
    for k in [k for k in now if k not in first]:
        try:
            delattr(cls, k)
        except (AttributeError, TypeError):
            pass
    for k, v in first.items():
        if now.get(k, _MISSING) is not v:
            try:
                setattr(cls, k, v)
            except (AttributeError, TypeError):
                pass

def _restore_state():
    # Only what this program's imports reach: a program that imports nothing sees no view and no shared
    # class (builtin types cannot be patched). Views are checked after every program that imported one,
    # classes after a program whose text could change one.
    if _imported:
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
                now.update(saved.items())
        if 'classes' in _touched:
            for cls in classes:
                _restore_class(cls, _class_saved[cls])
    if not _touched:
        _imported.clear()
        return
    if 'abc' in _touched:
        for cls, registered in _abc_saved.items():
            if frozenset(abc._get_dump(cls)[0]) != registered:
                cls._abc_registry_clear()
                for ref in registered:
                    sub = ref()
                    if sub is not None:
                        cls.register(sub)
                cls._abc_caches_clear()
    if 'decimal' in _touched and _decimal_default:
        decimal = sys.modules['decimal']
        d = decimal.DefaultContext
        default = _decimal_default[0]
        for k in ('prec', 'rounding', 'Emin', 'Emax', 'capitals', 'clamp'):
            setattr(d, k, getattr(default, k))
        d.traps = dict(default.traps)
        d.flags = dict(default.flags)
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

# Events of Python's audit hooks (PEP 578) that no task program needs and that lead out of its own
# objects: frames (from generators, coroutines, tracebacks, sys._getframe), tracing and monitoring
# callbacks that would run inside later requests, heap walks, code and function construction, replacing
# a function's code or defaults, file writes and processes. Refused from the moment the bridges are cut
# (Pyodide's own start from a memory snapshot needs some of them) to the end of the process, not only
# while a program runs: a finalizer a program left behind runs whenever the collector finds it. The hook
# is reachable from nowhere (the interpreter keeps it; gc walks are refused), hooks cannot be removed,
# and the only switch it has is the audit event that arms it, which nothing can undo.
_REFUSED_EVENTS = frozenset({
    'sys._getframe', 'sys._current_frames', 'sys._current_exceptions', 'sys.settrace', 'sys.setprofile',
    'sys._settraceallthreads', 'sys._setprofileallthreads', 'sys.addaudithook', 'sys.monitoring.register_callback',
    'sys.set_asyncgen_hooks', 'sys.setrecursionlimit', 'gc.get_objects', 'gc.get_referrers', 'gc.get_referents',
    'code.__new__', 'function.__new__', 'marshal.loads', 'marshal.load', 'pickle.find_class',
    'os.system', 'os.exec', 'os.posix_spawn', 'os.spawn', 'os.fork', 'os.forkpty', 'os.kill', 'os.killpg',
    'os.remove', 'os.rename', 'os.rmdir', 'os.mkdir', 'os.chmod', 'os.chown', 'os.link', 'os.symlink',
    'os.truncate', 'os.utime', 'os.putenv', 'os.unsetenv', 'os.chdir', 'subprocess.Popen', 'socket.connect',
    'socket.bind', 'socket.__new__', 'ctypes.dlopen', 'ctypes.dlsym', 'ctypes.cdata', 'ctypes.addressof',
    'ctypes.string_at', 'ctypes.wstring_at', 'ctypes.call_function', 'ctypes.set_errno',
    'cpython._PySys_ClearAuditHooks', 'sys.excepthook', 'webbrowser.open', 'builtins.input',
})
_FRAME_ATTRS = frozenset({'gi_frame', 'cr_frame', 'ag_frame', 'tb_frame', 'f_back'})
_CODE_ATTRS = frozenset({'__code__', '__defaults__', '__kwdefaults__'})
# O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND in Emscripten's numbering.
_WRITE_FLAGS = 0x1 | 0x2 | 0x40 | 0x200 | 0x400
_refusals = []  # events refused during the current request

_ARM_EVENT = 'azr.sandbox.arm'

def _install_audit_hook(refused, frames, code_attrs, write_flags, log, str, type, arm_event):
    armed = []
    def hook(event, args):
        if not armed:
            if event == arm_event:
                armed.append(True)
            return
        if event in refused:
            pass
        elif event == 'object.__getattr__':
            if args[1] not in frames:
                return
        elif event == 'object.__setattr__' or event == 'object.__delattr__':
            if args[1] not in code_attrs:
                return
        elif event == 'open':
            mode, flags = args[1], args[2]
            if (mode is None or type(mode) is not str or mode in ('r', 'rb')) and not (flags & write_flags):
                return
        else:
            return
        log.append(event)
        raise RuntimeError('the sandbox refuses ' + str(event))
    sys.addaudithook(hook)

_install_audit_hook(_REFUSED_EVENTS, _FRAME_ATTRS, _CODE_ATTRS, _WRITE_FLAGS, _refusals, str, type, _ARM_EVENT)
del _install_audit_hook

def _preload():
    # Every allowed module, its public submodules and their views, made before any program runs (and
    # before the memory snapshot, so later sandboxes start with them): after this the views and the
    # saved state they are restored from never change, which is what lets the integrity check below
    # treat any change to them as tampering.
    for name in sorted(ALLOWED_MODULES):
        _guarded_import(name)
    for name in sorted(sys.modules):
        parts = name.split('.')
        if len(parts) > 1 and parts[0] in ALLOWED_MODULES and not any(p.startswith('_') for p in parts):
            _guarded_import(name)
    for name in list(_views):
        _reachable(name)
    _imported.clear()
    _touched.clear()

_preload()
_views_sealed = True

# Modules that reach JavaScript or emulate sockets. Their names go from sys.modules, and every loaded
# module loses the JavaScript proxies it holds, so that a program that got past the name checks finds
# no object of the JavaScript realm by walking modules. The realm holds nothing of the host either way
# (realm.ts); this only narrows what such a program can touch. The host calls this after a memory
# snapshot is taken, since a snapshot's bootstrap needs the bridges, and every instance calls it again.
BRIDGE_MODULES = ('js', 'pyodide_js', 'pyodide_js._api', 'pyodide.ffi', 'pyodide.code', 'pyodide.http',
                  'pyodide.webloop', 'pyodide.console', '_pyodide_core', 'socket', '_socket', 'ctypes',
                  '_ctypes', 'select', 'ssl')

def cut_bridges():
    core = sys.modules.get('_pyodide_core')
    proxy_types = tuple(v for k, v in vars(core).items() if isinstance(v, type) and k.startswith('Js')) if core else ()
    for name in BRIDGE_MODULES:
        sys.modules[name] = None
    for finder in list(sys.meta_path):
        if type(finder).__name__ == 'JsFinder':
            sys.meta_path.remove(finder)
            finder.jsproxies.clear()
    for name, mod in list(sys.modules.items()):
        if name.startswith('pyodide_js') or name.startswith('js.'):
            sys.modules[name] = None
        elif type(mod) is _ModuleType and proxy_types:
            ns = vars(mod)
            for k in [k for k, v in list(ns.items()) if isinstance(v, proxy_types)]:
                del ns[k]
    # The check rides in handle's defaults: a tuple, which no one can change, on a function whose
    # defaults cannot be replaced once the hook is armed (the next line).
    handle.__defaults__ = ((_fingerprint, _fingerprint_args()),)
    sys.audit(_ARM_EVENT)

def _fingerprint_args():
    # What the integrity check reads: the values of every namespace the runtime's own code goes through
    # from a request to its result's text (its globals and op table, builtins, json, ast, its classes),
    # and sys's hooks. Not the module views and the state they are restored from, nor the policy's
    # tables: a change there changes what later programs compute or may import, never how a result
    # becomes text (docs/verifier.md). The runtime's mutable containers that legitimately change (the
    # compile cache, the per-request lists) hold nothing a later request trusts. The last two items are
    # the reference: the objects as they are now. Values only: a key added changes the count, a value
    # replaced its identity. About 600 objects, compared in C after every request.
    import json.decoder, json.encoder, json.scanner
    classes = (Refused, _Saved, _FormatRewrite, json.JSONEncoder, json.JSONDecoder, ast.NodeVisitor,
               ast.NodeTransformer)
    watched = (globals(), vars(builtins), OPS, vars(json), vars(json.decoder), vars(json.encoder),
               vars(json.scanner), vars(ast)) + tuple(vars(c) for c in classes)
    hooks = _hooks
    args = (watched, sys, map, all, _is, len, zip, hooks)
    reference = tuple(tuple(d.values()) for d in watched)
    return args + (reference, hooks(sys))

def _hooks(sysmod):
    # sys's hooks as they are now. Uses no global name (see _fingerprint).
    return (sysmod.gettrace(), sysmod.getprofile(), sysmod.excepthook, sysmod.unraisablehook,
            sysmod.displayhook, sysmod.breakpointhook, *sysmod.meta_path, *sysmod.path_hooks)

def _fingerprint(args):
    # Called at the end of every request with the arguments taken once at start: True when every
    # namespace holds the objects it held then, compared by identity in C (no __eq__, no id()), and the
    # hooks are the same. Uses no global name, so rebinding one cannot change what it computes; replacing
    # its code or defaults is refused by the audit hook, and the arguments are an immutable tuple.
    watched, sysmod, map, all, is_, len, zip, hooks, reference, first_hooks = args
    for d, ref in zip(watched, reference):
        if len(d) != len(ref) or not all(map(is_, d.values(), ref)):
            return False
    now = hooks(sysmod)
    return len(now) == len(first_hooks) and all(map(is_, now, first_hooks))

def handle(request_json, limits_json, _integrity=None):
    # _integrity: (check, its arguments), set once in cut_bridges. Checked last, after everything this
    # request ran; if a program (this one, or a finalizer one left) changed what the runtime relies on,
    # the result is discarded and the realm retires the sandbox. Anything the tampering makes raise
    # instead ends the process (host.ts), which retires it too.
    req = json.loads(request_json)
    limits = json.loads(limits_json)
    sys.set_int_max_str_digits(MAX_DIGITS)
    _touched.clear()
    _imported.clear()
    _refusals.clear()
    _compiled.clear()  # a program's code lives for one request: no request runs code another left
    try:
        r = OPS[req['op']](req, limits)
    except Refused as e:
        r = {'ok': False, 'kind': e.kind, 'message': str(e)[:300]}
    except MemoryError:
        r = {'ok': False, 'kind': 'memory', 'message': 'MemoryError'}
    except RecursionError:
        r = {'ok': False, 'kind': 'runtime', 'message': 'RecursionError'}
    except Exception as e:
        r = {'ok': False, 'kind': 'runtime', 'message': (_type_name(type(e)) + ': ' + _message(e))[:200]}
    if _refusals:
        # The program reached for something no task needs; it was refused, and the program may have
        # caught that, but its result is not a task's result.
        r = {'ok': False, 'kind': 'banned', 'message': 'the program reached for ' + _refusals[0]}
    _compiled.clear()
    _restore_state()
    out = json.dumps(r)
    if _integrity is not None and not _integrity[0](_integrity[1]):
        return ('{"ok": false, "kind": "banned", "message": "the program changed the sandbox runtime;'
                ' the sandbox is retired", "recycle": true}')
    return out
