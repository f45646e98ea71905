"""Queries a search runs on every request, compiled to SQL once and run again with new values.

Django builds and compiles a queryset's SQL anew each time it runs: for the four statements
of a repeated search (the user's index position, the candidates' owner check, the hits and
their tags) that was more than half of the search's CPU. Compiled once, a repeated full
results page went from 8.6 to 6.3 ms of CPU (bench/search_page_cpu.py, README, Measured figures).
A Prepared query builds its queryset once per database connection with stand-in values,
keeps the SQL, where each stand-in went among its parameters and the result converters the
ORM would apply, and then runs that SQL with the values of the call, through the same
connection the ORM would pick (the router, so a consistent read's alias), and its cursor
(query logging and execute wrappers see it).

The values that change are a query's arguments: user or row ids (ints), or lists of ids,
which must reach the SQL through InIds (search/id_list.py), one parameter whatever their
number. Anything else the query depends on is part of the queryset the builder returns.
"""

import weakref
from collections.abc import Callable

from django.db import connections, router
from django.db.models import QuerySet

from search.id_list import InIds

# Far outside any id, so a parameter equal to one (or an id list holding only one) can only
# have come from that stand-in.
_STAND_IN_BASE = -(2**53)


class Prepared:
    """`Prepared(lambda user_id, ids: Model.objects.filter(...).values_list(...))`;
    `.rows(user_id, ids)` -> the rows as tuples, as values_list() gives them."""

    def __init__(self, build: Callable[..., QuerySet]):
        self.build = build
        # Per connection (each thread has its own): the compiler converts with its connection.
        self._compiled = weakref.WeakKeyDictionary()  # connection -> (sql, params, slots, compiler, converters)
        self._model = None

    def rows(self, *args) -> list[tuple]:
        if self._model is None:
            self._model = self.build(*self._stand_ins(args)).model
        connection = connections[router.db_for_read(self._model)]
        compiled = self._compiled.get(connection)
        if compiled is None:
            compiled = self._compiled[connection] = self._compile(connection, args)
        sql, constants, slots, compiler, converters = compiled
        params = list(constants)
        for position, (arg, is_list) in slots.items():
            params[position] = InIds.parameter(args[arg], connection.vendor) if is_list else int(args[arg])
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if converters:
            rows = [tuple(row) for row in compiler.apply_converters(rows, converters)]
        return rows

    @staticmethod
    def _stand_ins(args) -> list:
        return [[_STAND_IN_BASE - k] if isinstance(arg, list | set | tuple) else _STAND_IN_BASE - k for k, arg in enumerate(args)]

    def _compile(self, connection, args):
        stand_ins = self._stand_ins(args)
        compiler = self.build(*stand_ins).query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        slots = {}  # parameter position -> (argument index, whether it is an id list)
        for k, stand_in in enumerate(stand_ins):
            is_list = isinstance(stand_in, list)
            expected = InIds.parameter(stand_in, connection.vendor) if is_list else stand_in
            found = [position for position, param in enumerate(params) if param == expected]
            if not found:
                raise TypeError(f"argument {k} of a prepared query does not reach its SQL as a parameter (through InIds for a list)")
            slots.update((position, (k, is_list)) for position in found)
        # A stand-in met in another form too (inside a text, say) could not be replaced there.
        marks = [str(_STAND_IN_BASE - k) for k in range(len(args))]
        if any(mark in str(param) for n, param in enumerate(params) if n not in slots for mark in marks):
            raise TypeError("an argument of a prepared query reaches its SQL in a form it cannot be put back in")
        converters = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
        return sql, tuple(params), slots, compiler, converters
