"""Estimators: each a function taking a :class:`~clusterimpact.Panel` and returning a result.

Examples
--------
>>> from clusterimpact.estimators.att_gt import att_gt
>>> att_gt.__name__
'att_gt'
"""
