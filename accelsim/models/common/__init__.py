"""Pieces shared by several model packages (not a model itself; the registry skips it).

Model packages may import from here, from the core and from :mod:`accelsim.formats`, never from
another model package.
"""
