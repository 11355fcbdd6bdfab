// Python programs a hostile model could write, shared by the sandbox and verdict tests.

/** A program whose body is indented under `def f(x):`. */
export const py = (body: string): string =>
  `def f(x):\n${body
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')}`;

/**
 * A program that gets past the name checks: a metaclass made from type(int) (not the name `type`) whose
 * isinstance always agrees, so a class pattern reads any attribute named in `__match_args__`, spelled at
 * run time. With it, `attr(obj, name)` reads any attribute, `D(name)` spells a dunder, `bi` is the
 * builtins module and `imp` the real __import__. `body` runs after that, inside f.
 */
export const escaped = (body: string): string =>
  py(
    [
      "u = '_' * 2",
      'T = type(int)',
      'class Any(T):',
      '    def __instancecheck__(cls, obj):',
      '        return True',
      'def attr(obj, name):',
      "    C = Any('C', (), {u + 'match' + '_args' + u: (name,)})",
      '    match obj:',
      '        case C(v):',
      '            return v',
      'D = lambda n: u + n + u',
      "bi = attr(len, D('self'))",
      "imp = attr(bi, D('import'))",
      "sys = imp('sys')",
      "runtime = attr(sys.modules[D('main')], D('dict'))",
      body,
    ].join('\n'),
  );
