"""Tests of ``manage.py check_composites``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from composites.definitions import composite_id
from tests.registry_documents import composite, manage, run_command, step, write

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REPOSITORY_REGISTRY = PROJECT_ROOT / "registry" / "connectors_registry.json"


def check(*arguments: str) -> tuple[int, list[str], str]:
    return run_command("check_composites", *arguments)


def test_check_composites_repository_registry_exits_0() -> None:
    status, lines, _ = check(str(REPOSITORY_REGISTRY))

    assert status == 0
    assert lines == [
        f"ok auth-and-fetch-user (id {composite_id('auth-and-fetch-user')}): 2 step(s)",
        f"ok member-open-tickets (id {composite_id('member-open-tickets')}): 2 step(s)",
        "ok community-analytics-summary "
        f"(id {composite_id('community-analytics-summary')}): 1 step(s)",
        f"{REPOSITORY_REGISTRY}: 0 error(s), 0 warning(s), 3 composite(s)",
    ]


def test_check_composites_repository_registry_passes_strict() -> None:
    status, _, _ = check(str(REPOSITORY_REGISTRY), "--strict")

    assert status == 0


def test_check_composites_without_a_path_checks_the_configured_file(
    registry_file: Path,
) -> None:
    write(registry_file, composite())

    status, lines, _ = check()

    assert status == 0
    assert lines[-1] == f"{registry_file}: 0 error(s), 0 warning(s), 1 composite(s)"


def test_check_composites_errors_exit_1_with_one_line_each(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.json",
        composite(step(url="http://x/", method="FETCH"), permalink="Bad"),
        composite(permalink="other", steps=[]),
    )

    status, lines, failure = check(str(path))

    assert status == 1
    assert lines == [
        "error composite_connectors[0].permalink: 'Bad' is not a slug: use "
        "lower-case letters, digits and single hyphens, with no hyphen at either "
        "end",
        "error composite_connectors[0].steps[0].url: must use https://, not http://",
        "error composite_connectors[0].steps[0].method: 'FETCH' is not one of "
        "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT",
        "warning composite_connectors[1].steps: has no steps; running it fails",
        f"{path}: 3 error(s), 1 warning(s), 0 composite(s)",
    ]
    assert failure == f"{path} is invalid: 3 error(s)."


def test_check_composites_warnings_alone_exit_0(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", composite(steps=[], extra=True))

    status, lines, _ = check(str(path))

    assert status == 0
    assert lines == [
        "warning composite_connectors[0].extra: unknown key, ignored",
        "warning composite_connectors[0].steps: has no steps; running it fails",
        f"ok demo (id {composite_id('demo')}): 0 step(s)",
        f"{path}: 0 error(s), 2 warning(s), 1 composite(s)",
    ]


def test_check_composites_warnings_with_strict_exit_1(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", composite(step(reponse_body="x")))

    status, lines, failure = check(str(path), "--strict")

    assert status == 1
    assert lines[0] == (
        "warning composite_connectors[0].steps[0].reponse_body: unknown key, ignored"
    )
    assert failure == f"{path} has 1 warning(s), which --strict rejects."


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (
            b'{"composite_connectors": [',
            "error line 1, column 27: invalid JSON: Expecting value",
        ),
        (
            b'{"composite_connectors": []}\n\xff',
            "error line 2, column 1: the file is not UTF-8 (byte 0xff)",
        ),
        (b'["not an object"]', "error (top level): must be an object, not an array"),
    ],
)
def test_check_composites_unreadable_document_exits_1(
    tmp_path: Path, content: bytes, line: str
) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(content)

    status, lines, _ = check(str(path))

    assert status == 1
    assert lines == [line, f"{path}: 1 error(s), 0 warning(s), 0 composite(s)"]


def test_check_composites_missing_file_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"

    status, lines, _ = check(str(path))

    assert status == 1
    assert lines[0] == f"error file: cannot read {path}: No such file or directory"


def test_check_composites_changes_nothing(registry_file: Path, tmp_path: Path) -> None:
    write(registry_file, composite())
    path = write(tmp_path / "other.json", composite(permalink="other"))
    before = (registry_file.read_bytes(), registry_file.stat().st_mtime_ns)

    check(str(path))

    assert (registry_file.read_bytes(), registry_file.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "connectors_registry.json",
        "other.json",
    ]


def check_json(*arguments: str) -> tuple[int, dict[str, Any]]:
    status, lines, _ = check("--format=json", *arguments)
    return status, json.loads("\n".join(lines))


def test_check_composites_json_of_a_valid_registry(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.json",
        composite(step(name="auth"), step(name="fetch-user"), name="Café"),
    )

    assert check_json(str(path)) == (
        0,
        {
            "path": str(path),
            "valid": True,
            "strict": False,
            "passed": True,
            "errors": [],
            "warnings": [],
            "composites": [
                {
                    "id": composite_id("demo"),
                    "permalink": "demo",
                    "name": "Café",
                    "steps": ["auth", "fetch-user"],
                }
            ],
        },
    )


def test_check_composites_json_of_an_invalid_registry(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", composite(step(url="ftp://x/"), extra=1))

    assert check_json(str(path)) == (
        1,
        {
            "path": str(path),
            "valid": False,
            "strict": False,
            "passed": False,
            "errors": [
                {
                    "location": "composite_connectors[0].steps[0].url",
                    "message": "must be an absolute https:// URL",
                }
            ],
            "warnings": [
                {
                    "location": "composite_connectors[0].extra",
                    "message": "unknown key, ignored",
                }
            ],
            "composites": [],
        },
    )


def test_check_composites_json_with_strict_and_warnings_fails(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", composite(extra=1))

    status, document = check_json(str(path), "--strict")

    assert status == 1
    assert (document["valid"], document["strict"], document["passed"]) == (
        True,
        True,
        False,
    )
    assert [c["permalink"] for c in document["composites"]] == ["demo"]


def test_check_composites_process_exit_status_is_1_for_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", composite(name=""))

    result = manage("check_composites", registry_path=path)

    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        "error composite_connectors[0].name: must not be empty"
    )
    assert result.stderr.strip() == f"CommandError: {path} is invalid: 1 error(s)."


def test_check_composites_process_runs_while_the_configured_registry_is_broken(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{")

    result = manage("check_composites", str(REPOSITORY_REGISTRY), registry_path=broken)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith(
        "0 error(s), 0 warning(s), 3 composite(s)"
    )


def single(**fields: Any) -> dict[str, Any]:
    """A registry of one composite whose one step has ``fields``."""
    return {"composite_connectors": [composite(step(**fields))]}


AT = "composite_connectors[0].steps[0]"
SLUG = (
    "is not a slug: use lower-case letters, digits and single hyphens, with no "
    "hyphen at either end"
)
# Each bad input: the file's content, the exit status, the problem lines.
BAD_INPUTS: list[tuple[str, bytes | dict[str, Any], int, list[str]]] = [
    (
        "invalid-json",
        b'{"composite_connectors": [\n  {"name": "x"\n]}',
        1,
        ["error line 3, column 1: invalid JSON: Expecting ',' delimiter"],
    ),
    (
        "not-utf8",
        b'{"composite_connectors": [], "x": "\xe9"}',
        1,
        ["error line 1, column 36: the file is not UTF-8 (byte 0xe9)"],
    ),
    (
        "deep-nesting",
        b'{"x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        1,
        ["error file: invalid JSON: nested too deeply"],
    ),
    (
        "top-level-array",
        b"[]",
        1,
        ["error (top level): must be an object, not an array"],
    ),
    (
        "wrong-type",
        {"composite_connectors": [composite(name=["x"])]},
        1,
        ["error composite_connectors[0].name: must be a string, not an array"],
    ),
    (
        "empty-string",
        single(url=""),
        1,
        [f"error {AT}.url: must not be empty"],
    ),
    (
        "too-long",
        single(headers=[{"key": "X-A", "value": "v" * 1001}]),
        1,
        [f"error {AT}.headers[0].value: is 1001 characters long; the limit is 1000"],
    ),
    (
        "duplicate-permalink",
        {"composite_connectors": [composite(), composite(name="B")]},
        1,
        [
            "error composite_connectors[1].permalink: duplicate permalink 'demo' "
            "(also composite_connectors[0])"
        ],
    ),
    (
        "duplicate-step",
        {"composite_connectors": [composite(step(), step())]},
        1,
        [
            "error composite_connectors[0].steps[1].name: duplicate step name "
            "'fetch' (also steps[0])"
        ],
    ),
    (
        "upper-case-slug",
        {"composite_connectors": [composite(permalink="Demo")]},
        1,
        [f"error composite_connectors[0].permalink: 'Demo' {SLUG}"],
    ),
    (
        "underscore-slug",
        single(name="fetch_user"),
        1,
        [f"error {AT}.name: 'fetch_user' {SLUG}"],
    ),
    (
        "doubled-hyphen-slug",
        {"composite_connectors": [composite(permalink="a--b")]},
        1,
        [f"error composite_connectors[0].permalink: 'a--b' {SLUG}"],
    ),
    (
        "unknown-method",
        single(method="FETCH"),
        1,
        [
            f"error {AT}.method: 'FETCH' is not one of DELETE, GET, HEAD, OPTIONS, "
            "PATCH, POST, PUT"
        ],
    ),
    (
        "lower-case-method",
        single(method="delete"),
        0,
        [f"warning {AT}.method: write 'DELETE' in upper case"],
    ),
    (
        "http-url",
        single(url="http://api.example.com/"),
        1,
        [f"error {AT}.url: must use https://, not http://"],
    ),
    (
        "template-syntax",
        single(request_body="{{ 1 + }}"),
        1,
        [
            f"error {AT}.request_body: template syntax error on line 1: unexpected "
            "'end of print statement'"
        ],
    ),
    (
        "get-secret-in-url",
        single(url="https://x.example/{{ get_secret('k') }}"),
        1,
        [
            f"error {AT}.url: get_secret() is not available in url and "
            "request_body templates"
        ],
    ),
    (
        "get-secret-in-request-body",
        single(request_body="{{ get_secret('k') }}"),
        1,
        [
            f"error {AT}.request_body: get_secret() is not available in url and "
            "request_body templates"
        ],
    ),
    (
        "get-secret-in-response-body",
        single(response_body="{{ get_secret('k') }}"),
        1,
        [
            f"error {AT}.response_body: get_secret() is not available in "
            "response_body templates"
        ],
    ),
    (
        "jwt-encode-in-response-body",
        single(response_body="{{ jwt_encode({}, 'k') }}"),
        1,
        [
            f"error {AT}.response_body: jwt_encode() is not available in "
            "response_body templates"
        ],
    ),
    (
        "response-outside-response-body",
        single(headers=[{"key": "X-A", "value": "{{ response.body }}"}]),
        1,
        [
            f"error {AT}.headers[0].value: response is not available in header, "
            "query and authentication templates"
        ],
    ),
    (
        "step-refers-to-itself",
        single(request_body="{{ steps.fetch.body }}"),
        1,
        [
            f"error {AT}.request_body: refers to its own step 'fetch'; only "
            "earlier steps can be used"
        ],
    ),
    (
        "step-refers-to-a-later-step",
        {
            "composite_connectors": [
                composite(step(request_body="{{ steps.b.body }}"), step(name="b"))
            ]
        },
        1,
        [f"error {AT}.request_body: refers to step 'b', which runs later"],
    ),
    (
        "unknown-step",
        single(request_body="{{ steps.nope.body }}"),
        1,
        [f"error {AT}.request_body: refers to unknown step 'nope'"],
    ),
    (
        "hyphenated-step-with-a-dot",
        {
            "composite_connectors": [
                composite(
                    step(name="get-token"),
                    step(name="use", request_body="{{ steps.get-token.body }}"),
                )
            ]
        },
        1,
        [
            "error composite_connectors[0].steps[1].request_body: refers to "
            "unknown step 'get'; a hyphenated name needs brackets: "
            "steps['get-token']"
        ],
    ),
    (
        "unknown-key",
        single(reponse_body="{{ response.body }}"),
        0,
        [f"warning {AT}.reponse_body: unknown key, ignored"],
    ),
    (
        "content-type-on-a-non-last-step",
        {
            "composite_connectors": [
                composite(step(response_content_type="text/plain"), step(name="b"))
            ]
        },
        0,
        [
            f"warning {AT}.response_content_type: has no effect on a step other than "
            "the last"
        ],
    ),
    (
        "overridable-header",
        single(headers=[{"key": "X-A", "value": "1", "overridable": True}]),
        0,
        [
            f"warning {AT}.headers[0].overridable: has no effect on a composite "
            "step's header"
        ],
    ),
    (
        "empty-steps",
        {"composite_connectors": [composite(steps=[])]},
        0,
        ["warning composite_connectors[0].steps: has no steps; running it fails"],
    ),
]


@pytest.mark.parametrize(
    ("content", "status", "expected"),
    [row[1:] for row in BAD_INPUTS],
    ids=[row[0] for row in BAD_INPUTS],
)
def test_check_composites_bad_input_is_reported_with_its_location(
    tmp_path: Path,
    content: bytes | dict[str, Any],
    status: int,
    expected: list[str],
) -> None:
    path = tmp_path / "r.json"
    if isinstance(content, dict):
        path.write_text(json.dumps(content))
    else:
        path.write_bytes(content)

    exit_status, lines, _ = check(str(path))
    strict_status, _, _ = check(str(path), "--strict")

    assert exit_status == status
    assert strict_status == 1
    assert [line for line in lines if line.startswith(("error", "warning"))] == (
        expected
    )
