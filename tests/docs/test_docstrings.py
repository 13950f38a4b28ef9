"""Every public name has a numpydoc docstring with an Examples section."""

import inspect

import pytest

import clusterimpact as ci


def _public_objects():
    for name in ci.__all__:
        obj = getattr(ci, name)
        if inspect.ismodule(obj):
            for sub in getattr(obj, "__all__", []):
                yield f"{name}.{sub}", getattr(obj, sub)
            continue
        if name.startswith("__") or not (inspect.isclass(obj) or callable(obj)):
            continue
        yield name, obj
        if inspect.isclass(obj) and not issubclass(obj, BaseException | Warning):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                target = member.fget if isinstance(member, property) else member
                target = getattr(target, "func", target)  # cached_property
                if callable(target) or isinstance(member, property):
                    yield f"{name}.{attr}", target


PUBLIC = sorted(dict(_public_objects()).items())


@pytest.mark.parametrize(("name", "obj"), PUBLIC, ids=[n for n, _ in PUBLIC])
def test_has_docstring_with_example(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{name} has no docstring"
    assert "Examples\n--------" in doc, f"{name} has no Examples section"
