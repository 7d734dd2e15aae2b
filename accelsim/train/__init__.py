"""Training: datasets (`accelsim.train.data`), the training loop (`accelsim.train.loop`) and
the per-dataset defaults (`accelsim.train.defaults`).

`accelsim.train` is also the training function the package exports (`accelsim.train(config,
out)`, `accelsim.train.loop.train`): once this package is imported its name in `accelsim`
is the package, so the package itself is callable and hands the call to the loop. torch is
imported only when it is called.
"""

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from accelsim.train.loop import train

        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
