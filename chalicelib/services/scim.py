"""SCIM 2.0 provisioning (RFC 7643 schema, RFC 7644 protocol) over the ProfileStore.

Identity providers (Okta, Microsoft Entra ID) create, read, replace, patch, deactivate and
delete people through /scim/v2/Users. A SCIM User is a view of a Profile:

    userName -> user_name            externalId -> external_id
    name.formatted, else givenName + familyName, else displayName -> name
    name.givenName / name.familyName -> given_name / family_name (kept as sent)
    emails[primary, else type "work", else first].value -> email
    title -> title                   active -> active
    preferredLanguage or locale -> first of languages
    addresses[primary, else type "work"].locality -> site
    enterprise employeeNumber / department / manager.value -> employee_number / department /
    manager_id (the manager's profile id)

Languages and site belong to the person: the identity provider may set them, but a request
that leaves them out never clears them. Everything else follows the RFC: PUT replaces.
"""
from __future__ import annotations

import copy
import json
import re
import secrets
from typing import Any, Callable, Iterable

from ..clock import iso
from ..domain import Profile
from ..errors import BadRequest, Conflict, NotFound, PayloadTooLarge, RelaisError, ValidationError
from ..ports import Clock, ProfileStore

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

MAX_RESULTS = 200  # the most resources one list response carries (ServiceProviderConfig)
MAX_OPERATIONS = 100  # the most operations one PATCH request carries
MAX_RETRIES = 5
SHORT = 200  # longest name, userName, title... (as for HR sync)

USER_ATTRIBUTES = ("id", "externalId", "meta", "schemas", "userName", "name", "displayName",
                   "nickName", "profileUrl", "title", "userType", "preferredLanguage", "locale",
                   "timezone", "active", "password", "emails", "phoneNumbers", "ims", "photos",
                   "addresses", "groups", "entitlements", "roles", "x509Certificates")
ENTERPRISE_ATTRIBUTES = ("employeeNumber", "costCenter", "organization", "division", "department",
                         "manager")
MULTI_VALUED = {"emails", "phoneNumbers", "ims", "photos", "addresses", "groups", "entitlements",
                "roles", "x509Certificates"}
_MULTI_SUB = ("value", "display", "type", "primary", "formatted", "streetAddress", "locality",
              "region", "postalCode", "country", "$ref")
SUB_ATTRIBUTES = {"name": ("formatted", "familyName", "givenName", "middleName", "honorificPrefix",
                           "honorificSuffix"),
                  "manager": ("value", "$ref", "displayName"),
                  **{attr: _MULTI_SUB for attr in MULTI_VALUED}}
READ_ONLY = {"id", "meta", "groups"}
CASE_EXACT = {"id", "externalId"}  # RFC 7643 §4.1: other User strings compare case-insensitively

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
PERSON_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$")
_PATH = re.compile(r"^(?P<attr>[A-Za-z$][\w$-]*)(?:\[(?P<filter>.*)\])?"
                   r"(?:\.(?P<sub>[A-Za-z$][\w$-]*))?$", re.S)


class ScimError(RelaisError):
    """A request SCIM refuses, with its RFC 7644 §3.12 status and scimType."""

    code = "scim_error"

    def __init__(self, status: int, message: str, scim_type: str | None = None):
        super().__init__(message)
        self.status = status
        self.scim_type = scim_type


def invalid_value(message: str) -> ScimError:
    return ScimError(400, message, "invalidValue")


def _about_user_name(error: Conflict) -> bool:
    return any(d.get("field") == "user_name" for d in error.details)


def error_body(error: RelaisError) -> tuple[int, dict]:
    """The HTTP status and SCIM Error message (RFC 7644 §3.12) for any Relais error."""
    scim_type = getattr(error, "scim_type", None)
    status = error.status
    if isinstance(error, ValidationError):
        status, scim_type = 400, scim_type or "invalidValue"  # SCIM has no 422
    elif isinstance(error, BadRequest):
        scim_type = scim_type or "invalidSyntax"
    elif isinstance(error, Conflict) and _about_user_name(error):
        scim_type = "uniqueness"
    body = {"schemas": [ERROR], "status": str(status), "detail": error.message}
    if scim_type:
        body["scimType"] = scim_type
    return status, body


def etag(profile: Profile) -> str:
    """The weak entity tag of a profile's stored version (meta.version and the ETag header)."""
    return f'W/"{profile.version}"'


def list_response(resources: list, total: int | None = None, start_index: int = 1) -> dict:
    return {"schemas": [LIST_RESPONSE],
            "totalResults": len(resources) if total is None else total,
            "startIndex": start_index, "itemsPerPage": len(resources), "Resources": resources}


# Filters and paths (RFC 7644 §3.4.2.2, §3.5.2) --------------------------------------------
def _tokens(text: str, scim_type: str) -> list[str]:
    """Split on spaces outside quotes and brackets, so `emails[type eq "work"].value` is one."""
    tokens, i, n = [], 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start, depth, quoted = i, 0, False
        while i < n:
            c = text[i]
            if quoted:
                if c == "\\":
                    i += 1
                elif c == '"':
                    quoted = False
            elif c == '"':
                quoted = True
            elif c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
            elif c.isspace() and depth == 0:
                break
            i += 1
        if quoted or depth != 0:
            raise ScimError(400, f"unbalanced quotes or brackets in {text!r}", scim_type)
        tokens.append(text[start:i])
    return tokens


def _literal(raw: str, scim_type: str) -> Any:
    if raw.lower() in ("true", "false", "null"):
        return json.loads(raw.lower())
    if raw.startswith('"') or re.fullmatch(r"-?\d+(\.\d+)?", raw):
        try:
            return json.loads(raw)
        except ValueError:
            pass
    raise ScimError(400, f"{raw!r} is not a JSON string, number, boolean or null", scim_type)


def parse_filter(text: str, scim_type: str = "invalidFilter") -> list[tuple[str, Any]]:
    """`attr eq value [and attr eq value]...`: the filters identity providers send.

    Okta and Microsoft Entra ID only use `eq` and `and`; anything else is refused rather than
    half-understood.
    """
    tokens = _tokens(text or "", scim_type)
    terms: list[tuple[str, Any]] = []
    while True:
        if len(tokens) < 3:
            raise ScimError(400, f"{text!r} is not a filter of the form: attribute eq \"value\"",
                            scim_type)
        path, operator, raw = tokens[:3]
        if operator.lower() != "eq":
            raise ScimError(400, f"operator {operator!r} is not supported; use eq (and 'and')",
                            scim_type)
        terms.append((path, _literal(raw, scim_type)))
        tokens = tokens[3:]
        if not tokens:
            return terms
        if tokens[0].lower() != "and":
            raise ScimError(400, f"{tokens[0]!r} is not supported; join terms with 'and'",
                            scim_type)
        tokens = tokens[1:]


def _canon(name: str, known: Iterable[str]) -> str:
    """Attribute names are case-insensitive (RFC 7643 §2.1); use the schema's spelling."""
    lower = name.lower()
    return next((k for k in known if k.lower() == lower), name)


def _get(data: dict, key: str) -> Any:
    if key in data:
        return data[key]
    lower = key.lower()
    return next((v for k, v in data.items() if k.lower() == lower), None)


def parse_path(path: Any, scim_type: str = "invalidPath"):
    """(in_extension, attribute, value filter terms or None, sub-attribute or None).

    The attribute is None when the path names the whole enterprise extension.
    """
    if not isinstance(path, str) or not path.strip():
        raise ScimError(400, "the path must be a non-empty string", scim_type)
    text = path.strip()
    if text.lower() == ENTERPRISE.lower():
        return True, None, None, None
    in_extension = False
    for urn, extension in ((ENTERPRISE, True), (CORE, False)):
        if text.lower().startswith(urn.lower() + ":"):
            text, in_extension = text[len(urn) + 1:], extension
            break
    match = _PATH.match(text)
    if not match:
        raise ScimError(400, f"{path!r} is not an attribute path", scim_type)
    attribute = _canon(match["attr"], ENTERPRISE_ATTRIBUTES if in_extension else USER_ATTRIBUTES)
    sub = match["sub"] and _canon(match["sub"], SUB_ATTRIBUTES.get(attribute, ()))
    terms = parse_filter(match["filter"], scim_type) if match["filter"] is not None else None
    return in_extension, attribute, terms, sub


def _same(attribute: str, actual: Any, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        if attribute in CASE_EXACT:
            return actual == expected
        return actual.casefold() == expected.casefold()
    if isinstance(expected, bool) and isinstance(actual, str):
        return actual.lower() == str(expected).lower()  # Entra sends "True" for true
    return actual == expected


def _element_matches(element: dict, terms: list[tuple[str, Any]]) -> bool:
    return all(_same(path, _get(element, path), value) for path, value in terms)


def _values(doc: dict, path: str) -> list:
    """Every value `path` reaches in a rendered User (for evaluating list filters)."""
    in_extension, attribute, terms, sub = parse_path(path, "invalidFilter")
    container = (doc.get(ENTERPRISE) or {}) if in_extension else doc
    value = container.get(attribute) if attribute else None
    if isinstance(value, list):
        elements = [e for e in value if isinstance(e, dict)]
        if terms:
            elements = [e for e in elements if _element_matches(e, terms)]
        return [_get(e, sub or "value") for e in elements]
    if isinstance(value, dict):
        return [_get(value, sub or "value")]
    return [] if value is None else [value]


# Reading a resource ------------------------------------------------------------------------
def _text(value: Any, field: str, limit: int = SHORT) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid_value(f"{field} must be a string")
    value = value.strip()
    if len(value) > limit:
        raise invalid_value(f"{field} is longer than {limit} characters")
    return value


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"  # Microsoft Entra ID sends "True" / "False"
    raise invalid_value(f"{field} must be true or false")


def _pick(values: Any, field: str) -> dict:
    """The element of a multi-valued attribute that counts: primary, else work, else first."""
    if values is None:
        return {}
    if isinstance(values, dict):
        values = [values]
    if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
        raise invalid_value(f"{field} must be a list of objects")
    for wanted in (lambda v: _get(v, "primary") in (True, "True", "true"),
                   lambda v: str(_get(v, "type") or "").lower() == "work",
                   lambda v: True):
        chosen = next((v for v in values if wanted(v)), None)
        if chosen is not None:
            return chosen
    return {}


def _language(value: Any, field: str) -> str:
    text = _text(value, field)
    # preferredLanguage may be an Accept-Language list: "da, en-gb;q=0.8"; keep the first.
    text = text.split(",")[0].split(";")[0].strip().replace("_", "-")
    if text and not LANGUAGE.match(text):
        raise invalid_value(f"{field} {text!r} is not a language tag such as en-US")
    return text


def _manager_id(value: Any) -> str | None:
    """Microsoft Entra ID sends the manager's id as a bare string; the RFC, as {"value": id}."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = _get(value, "value")
    manager = _text(value, "manager.value", 128)
    if manager and not PERSON_ID.match(manager):
        raise invalid_value(f"manager {manager!r} is not a user id")
    return manager or None


def _prefer_changed(now: list[str], before: list[str] | None) -> str:
    """The first value a PATCH changed, else the first present (in priority order)."""
    if before is not None:
        for value, old in zip(now, before):
            if value and value != old:
                return value
    return next((v for v in now if v), "")


def _name_candidates(doc: dict) -> tuple[list[str], str, str]:
    name = doc.get("name")
    if name is None:
        name = {}
    if not isinstance(name, dict):
        raise invalid_value("name must be an object")
    given = _text(_get(name, "givenName"), "name.givenName")
    family = _text(_get(name, "familyName"), "name.familyName")
    candidates = [_text(_get(name, "formatted"), "name.formatted"),
                  " ".join(p for p in (given, family) if p),
                  _text(doc.get("displayName"), "displayName")]
    return candidates, given, family


def _language_candidates(doc: dict) -> list[str]:
    return [_language(doc.get("preferredLanguage"), "preferredLanguage"),
            _language(doc.get("locale"), "locale")]


def _normalise(resource: Any) -> dict:
    """A copy of a User with the schema's spelling of attribute names."""
    if not isinstance(resource, dict):
        raise ScimError(400, "a User must be a JSON object", "invalidSyntax")
    doc: dict = {}
    for key, value in resource.items():
        if key.lower() == ENTERPRISE.lower():
            if value is not None and not isinstance(value, dict):
                raise invalid_value(f"{ENTERPRISE} must be an object")
            doc[ENTERPRISE] = {_canon(k, ENTERPRISE_ATTRIBUTES): v
                               for k, v in (value or {}).items()}
            continue
        key = _canon(key, USER_ATTRIBUTES)
        if key == "name" and isinstance(value, dict):
            value = {_canon(k, SUB_ATTRIBUTES["name"]): v for k, v in value.items()}
        doc[key] = value
    return doc


# Applying PATCH operations to a rendered User -----------------------------------------------
def _apply_operation(doc: dict, operation: Any) -> None:
    if not isinstance(operation, dict):
        raise ScimError(400, "each operation must be an object", "invalidSyntax")
    kind = str(_get(operation, "op") or "").lower()  # Entra sends "Replace", "Add", "Remove"
    if kind not in ("add", "replace", "remove"):
        raise ScimError(400, f"op must be add, replace or remove, not {_get(operation, 'op')!r}",
                        "invalidSyntax")
    path, value = _get(operation, "path"), _get(operation, "value")
    if path not in (None, ""):
        _apply_path(doc, kind, path, value)
        return
    if kind == "remove":
        raise ScimError(400, "remove needs a path", "noTarget")
    if not isinstance(value, dict):
        raise ScimError(400, f"{kind} without a path needs an object value", "invalidValue")
    for key, item in value.items():
        if key.lower() in {"schemas", *READ_ONLY}:
            continue  # clients echo these back unchanged (Okta sends the id)
        # Keys may be paths: Entra sends {"name.givenName": ..., "urn:...:employeeNumber": ...}.
        _apply_path(doc, kind, key, item)


def _apply_path(doc: dict, kind: str, path: Any, value: Any) -> None:
    in_extension, attribute, terms, sub = parse_path(path)
    if attribute is None:  # the whole enterprise extension
        if kind == "remove":
            doc.pop(ENTERPRISE, None)
            return
        if not isinstance(value, dict):
            raise invalid_value(f"{ENTERPRISE} must be an object")
        for key, item in value.items():
            _apply_path(doc, kind, f"{ENTERPRISE}:{key}", item)
        return
    if not in_extension and attribute in READ_ONLY:
        raise ScimError(400, f"{attribute} cannot be changed", "mutability")
    if not in_extension and attribute == "password":
        return  # Relais keeps no passwords; Okta pushes them anyway
    container = doc.setdefault(ENTERPRISE, {}) if in_extension else doc
    if in_extension and attribute == "manager" and sub is None and kind != "remove":
        manager = _manager_id(value)
        value = {"value": manager} if manager else None
    if terms is not None:
        _apply_filtered(container, kind, attribute, terms, sub, value)
        return
    current = container.get(attribute)
    if sub is not None:
        if attribute in MULTI_VALUED:  # emails.value without a filter: every element
            elements = [e for e in current or [] if isinstance(e, dict)]
            if kind == "remove":
                for element in elements:
                    element.pop(sub, None)
                return
            container[attribute] = elements or [{}]
            for element in container[attribute]:
                element[sub] = value
        elif kind == "remove":
            if isinstance(current, dict):
                current.pop(sub, None)
        else:
            if not isinstance(current, dict):
                current = container[attribute] = {}
            current[sub] = value
        return
    if kind == "remove":
        container.pop(attribute, None)
    elif attribute in MULTI_VALUED:
        items = value if isinstance(value, list) else [value]
        container[attribute] = (list(current or []) if kind == "add" else []) + items
    elif isinstance(value, dict) and isinstance(current, dict):
        # RFC 7644 §3.5.2.1/3: sub-attributes not in the value are left unchanged.
        known = SUB_ATTRIBUTES.get(attribute, ())
        current.update({_canon(k, known): v for k, v in value.items()})
    else:
        container[attribute] = value


def _apply_filtered(container: dict, kind: str, attribute: str, terms, sub, value) -> None:
    if attribute not in MULTI_VALUED:
        raise ScimError(400, f"a value filter applies to multi-valued attributes, not {attribute}",
                        "invalidPath")
    elements = [e for e in container.get(attribute) or [] if isinstance(e, dict)]
    matching = [e for e in elements if _element_matches(e, terms)]
    if kind == "remove":
        if sub is None:
            elements = [e for e in elements if not any(e is m for m in matching)]
        else:
            for element in matching:
                element.pop(sub, None)
        container[attribute] = elements
        return
    if not matching:
        # RFC 7644 says noTarget here, but Entra replaces emails[type eq "work"].value on users
        # that never had one; creating the element is what every IdP expects.
        created = {_canon(path, _MULTI_SUB): expected for path, expected in terms}
        elements.append(created)
        matching = [created]
    for element in matching:
        if sub is not None:
            element[sub] = value
        elif isinstance(value, dict):
            if kind == "replace":
                element.clear()
            element.update(value)
        else:
            raise invalid_value(f"{attribute}[...] needs an object value or a sub-attribute")
    container[attribute] = elements


def _project(doc: dict, attributes: str | None, excluded: str | None) -> dict:
    """RFC 7644 §3.9: `attributes` keeps only those (id and schemas always); `excludedAttributes`
    drops those."""
    if attributes:
        result = {"schemas": doc["schemas"], "id": doc["id"]}
        for path in (p.strip() for p in attributes.split(",") if p.strip()):
            in_extension, attribute, _, sub = parse_path(path, "invalidValue")
            source = (doc.get(ENTERPRISE) or {}) if in_extension else doc
            if attribute is None:
                if ENTERPRISE in doc:
                    result[ENTERPRISE] = doc[ENTERPRISE]
                continue
            if attribute not in source:
                continue
            target = result.setdefault(ENTERPRISE, {}) if in_extension else result
            value = source[attribute]
            if sub and isinstance(value, dict):
                if sub in value:
                    target.setdefault(attribute, {})[sub] = value[sub]
            elif sub and isinstance(value, list):
                target[attribute] = [{sub: e[sub]} for e in value if sub in e]
            else:
                target[attribute] = value
        return result
    if excluded:
        result = copy.deepcopy(doc)
        for path in (p.strip() for p in excluded.split(",") if p.strip()):
            in_extension, attribute, _, sub = parse_path(path, "invalidValue")
            if attribute in ("id", "schemas"):
                continue  # returned always
            container = (result.get(ENTERPRISE) or {}) if in_extension else result
            if attribute is None:
                result.pop(ENTERPRISE, None)
            elif sub and isinstance(container.get(attribute), dict):
                container[attribute].pop(sub, None)
            elif not sub:
                container.pop(attribute, None)
        return result
    return doc


def _if_match(header: str | None, profile: Profile) -> None:
    """RFC 7644 §3.14 / RFC 7232: a stale If-Match is 412 Precondition Failed."""
    if header is None:
        return
    tags = [t.strip() for t in header.split(",") if t.strip()]
    if "*" in tags:
        return
    versions = {t.removeprefix("W/").strip('"') for t in tags}
    if str(profile.version) not in versions:
        raise ScimError(412, f"the user changed since it was read; its version is now "
                             f"{etag(profile)}")


def _new_id() -> str:
    return "scim-" + secrets.token_hex(6)


class ScimService:
    """SCIM 2.0 Users over the ProfileStore, with the discovery documents.

    Writes are compare-and-set on the profile version (If-Match gives 412 when stale; without
    it, a lost race is retried) and call `on_change`, the same hook ProfileService and
    HrSyncService call, so routing and search see provisioning at once. DELETE marks the
    profile deleted: hidden everywhere, kept so past answers stay attributed.
    """

    def __init__(self, store: ProfileStore, clock: Clock, base_url: str = "",
                 on_change: Callable[[Profile], None] = lambda profile: None,
                 new_id: Callable[[], str] = _new_id):
        self.store = store
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.on_change = on_change
        self.new_id = new_id

    # Users ---------------------------------------------------------------------------
    def get(self, user_id: str) -> Profile:
        profile = self.store.get(user_id)
        if profile is None or profile.deleted:
            raise NotFound(f"User {user_id!r} not found")
        return profile

    def create(self, resource: Any) -> Profile:
        """POST /Users. A userName or externalId already in use is 409 uniqueness. A person HR
        sync already put in the directory with this email, and no identity provider has
        claimed yet, is adopted rather than duplicated."""
        fields = self._fields(_normalise(resource), None)
        self._check_unique(fields, None)
        owner = self.store.find(email=fields["email"]) if fields["email"] else None
        if owner is not None:
            if owner.user_name or owner.external_id:
                raise ScimError(409, f"email {fields['email']!r} belongs to User {owner.id!r}",
                                "uniqueness")
            return self._update(owner.id, None,
                                lambda current: self._fields(_normalise(resource), current))
        self._check_manager(None, fields["manager_id"])
        now = iso(self.clock.now())
        for _ in range(MAX_RETRIES):
            profile = Profile(id=self.new_id(), created_at=now, updated_at=now, **fields)
            try:
                stored = self.store.add(profile)
            except Conflict as err:
                if _about_user_name(err):
                    raise ScimError(409, err.message, "uniqueness") from None
                continue  # the random id was taken: draw another
            self.on_change(stored)
            return stored
        raise Conflict("could not allocate an id for the new User; retry")

    def replace(self, user_id: str, resource: Any, if_match: str | None = None) -> Profile:
        """PUT /Users/{id}: the User becomes `resource` (id, meta and password are ignored)."""
        doc = _normalise(resource)
        return self._update(user_id, if_match, lambda current: self._fields(doc, current))

    def patch(self, user_id: str, message: Any, if_match: str | None = None) -> Profile:
        """PATCH /Users/{id} (RFC 7644 §3.5.2): the operations apply, in order, to the User as
        it is rendered; the result is read back like a PUT."""
        if not isinstance(message, dict):
            raise ScimError(400, "a PatchOp must be a JSON object", "invalidSyntax")
        operations = _get(message, "Operations")
        if not isinstance(operations, list) or not operations:
            raise ScimError(400, "Operations must be a non-empty list", "invalidSyntax")
        if len(operations) > MAX_OPERATIONS:
            raise PayloadTooLarge(f"at most {MAX_OPERATIONS} operations per PATCH")

        def change(current: Profile) -> dict:
            before = self.to_resource(current)
            doc = copy.deepcopy(before)
            for operation in operations:
                _apply_operation(doc, operation)
            return self._fields(doc, current, before)

        return self._update(user_id, if_match, change)

    def delete(self, user_id: str, if_match: str | None = None) -> None:
        """DELETE /Users/{id}: marked deleted (and inactive), never erased."""
        self._update(user_id, if_match, lambda current: {"deleted": True, "active": False})

    def list(self, filter_text: str | None = None, start_index: int | None = None,
             count: int | None = None) -> tuple[int, int, list[Profile]]:
        """(totalResults, startIndex, page). startIndex is 1-based; below 1 counts as 1
        (RFC 7644 §3.4.2.4); count is capped at MAX_RESULTS. Inactive users are listed:
        identity providers look for them to reactivate them."""
        start = max(1, start_index or 1)
        count = MAX_RESULTS if count is None else max(0, min(count, MAX_RESULTS))
        if filter_text is not None and filter_text.strip():
            found = self._filtered(parse_filter(filter_text))
            return len(found), start, found[start - 1:start - 1 + count]
        return self._page(start, count)

    def _filtered(self, terms: list[tuple[str, Any]]) -> list[Profile]:
        candidates = None
        for path, value in terms:
            _, attribute, _, _ = parse_path(path, "invalidFilter")
            if isinstance(value, str) and attribute in ("id", "userName", "externalId", "emails"):
                candidates = self._lookup(attribute, value)
                break
        if candidates is None:
            raise ScimError(400, "filter on id, userName, externalId or emails with eq "
                                 "(other attributes are not indexed)", "invalidFilter")
        docs = [(p, self.to_resource(p)) for p in candidates]
        return [p for p, doc in docs
                if all(any(_same(parse_path(path, "invalidFilter")[1], v, value)
                           for v in _values(doc, path)) for path, value in terms)]

    def _lookup(self, attribute: str, value: str) -> list[Profile]:
        if attribute == "id":
            found = self.store.get(value)
            found = found if found is not None and not found.deleted else None
        elif attribute == "userName":
            found = self.store.find(user_name=value)
            if found is None:
                # An unclaimed profile shows its email as userName (see to_resource).
                by_email = self.store.find(email=value)
                found = by_email if by_email is not None and not by_email.user_name else None
        elif attribute == "externalId":
            found = self.store.find(external_id=value)
        else:
            found = self.store.find(email=value)
        return [found] if found is not None else []

    def _page(self, start: int, count: int) -> tuple[int, int, list[Profile]]:
        # Store cursors are opaque, so walk from the start; identity providers page forward.
        skip, page, total, cursor, walked = start - 1, [], None, None, 0
        while True:
            batch = self.store.list(limit=100, cursor=cursor, include_inactive=True)
            if total is None:
                total = batch.total
            walked += len(batch.items)
            for profile in batch.items:
                if skip:
                    skip -= 1
                elif len(page) < count:
                    page.append(profile)
            cursor = batch.next_cursor
            if cursor is None or (len(page) >= count and total is not None):
                break
        if total is None:  # a store that does not count: we walked everything
            total = walked
        return total, start, page

    # Writing -------------------------------------------------------------------------
    def _update(self, user_id: str, if_match: str | None,
                change: Callable[[Profile], dict]) -> Profile:
        for _ in range(MAX_RETRIES):
            current = self.get(user_id)
            _if_match(if_match, current)
            fields = change(current)
            if "user_name" in fields:
                self._check_unique(fields, current.id)
            if fields.get("manager_id") and fields["manager_id"] != current.manager_id:
                self._check_manager(current.id, fields["manager_id"])
            if all(getattr(current, k) == v for k, v in fields.items()):
                return current  # identity providers resend unchanged values; keep the version
            updated = current.replace(**fields, updated_at=iso(self.clock.now()))
            try:
                stored = self.store.update(updated)
            except Conflict as err:
                if _about_user_name(err):
                    raise ScimError(409, err.message, "uniqueness") from None
                if if_match is not None:
                    raise ScimError(412, f"User {user_id!r} changed while being written") from None
                continue
            self.on_change(stored)
            return stored
        raise Conflict(f"User {user_id!r} is being changed by others; retry")

    def _check_unique(self, fields: dict, own_id: str | None) -> None:
        for column, attribute in (("user_name", "userName"), ("external_id", "externalId")):
            if not fields.get(column):
                continue
            other = self.store.find(**{column: fields[column]})
            if other is not None and other.id != own_id:
                raise ScimError(409, f"{attribute} {fields[column]!r} is already taken",
                                "uniqueness")

    def _check_manager(self, user_id: str | None, manager_id: str | None) -> None:
        if not manager_id:
            return
        if manager_id == user_id:
            raise invalid_value("a person cannot be their own manager")
        seen = {user_id}
        current = manager_id
        while current:
            manager = self.store.get(current)
            if manager is None or (manager.deleted and current == manager_id):
                raise invalid_value(f"manager {manager_id!r} is not a known User")
            if current in seen:
                raise invalid_value(f"manager {manager_id!r} would make a management cycle")
            seen.add(current)
            current = manager.manager_id

    def _fields(self, doc: dict, current: Profile | None, before: dict | None = None) -> dict:
        """Profile fields from a normalised User; `before` is the User a PATCH started from."""
        user_name = _text(doc.get("userName"), "userName")
        if not user_name:
            raise invalid_value("userName is required")
        names, given, family = _name_candidates(doc)
        name = _prefer_changed(names, _name_candidates(before)[0] if before else None)
        email = _text(_get(_pick(doc.get("emails"), "emails"), "value"), "emails.value", 254)
        if email and not EMAIL.match(email):
            raise invalid_value(f"email {email!r} is not an email address")
        extension = doc.get(ENTERPRISE) or {}
        if not isinstance(extension, dict):
            raise invalid_value(f"{ENTERPRISE} must be an object")
        fields = {
            "user_name": user_name,
            "external_id": _text(doc.get("externalId"), "externalId"),
            "name": name or user_name,
            "given_name": given,
            "family_name": family,
            "email": email,
            "title": _text(doc.get("title"), "title"),
            "active": (_bool(doc["active"], "active") if doc.get("active") is not None
                       else current.active if current else True),
            "employee_number": _text(_get(extension, "employeeNumber"), "employeeNumber"),
            "department": _text(_get(extension, "department"), "department"),
            "manager_id": _manager_id(_get(extension, "manager")),
        }
        languages = list(current.languages) if current else []
        language = _prefer_changed(_language_candidates(doc),
                                   _language_candidates(before) if before else None)
        if language:
            # Prepend, never drop: the other languages were declared by the person.
            languages = [language] + [x for x in languages if x.lower() != language.lower()]
        fields["languages"] = languages
        address = _pick(doc.get("addresses"), "addresses")
        fields["site"] = (_text(_get(address, "locality"), "addresses.locality")
                          or (current.site if current else ""))
        return fields

    # Rendering -------------------------------------------------------------------------
    def location(self, profile: Profile) -> str:
        return f"{self.base_url}/scim/v2/Users/{profile.id}"

    def to_resource(self, profile: Profile, attributes: str | None = None,
                    excluded: str | None = None) -> dict:
        """The SCIM User for a profile. Empty values are left out rather than sent as null."""
        doc: dict[str, Any] = {"schemas": [CORE], "id": profile.id}
        if profile.external_id:
            doc["externalId"] = profile.external_id
        # A profile HR sync created has no userName until an IdP claims it: show its email,
        # which is what an IdP matches on, so the IdP's "does the user exist" probe finds it.
        doc["userName"] = profile.user_name or profile.email or profile.id
        name = {"formatted": profile.name}
        if profile.given_name:
            name["givenName"] = profile.given_name
        if profile.family_name:
            name["familyName"] = profile.family_name
        doc["name"] = name
        doc["displayName"] = profile.name
        if profile.title:
            doc["title"] = profile.title
        if profile.languages:
            doc["preferredLanguage"] = doc["locale"] = profile.languages[0]
        doc["active"] = profile.active
        if profile.email:
            doc["emails"] = [{"value": profile.email, "type": "work", "primary": True}]
        if profile.site:
            doc["addresses"] = [{"type": "work", "locality": profile.site, "primary": True}]
        extension: dict[str, Any] = {}
        if profile.employee_number:
            extension["employeeNumber"] = profile.employee_number
        if profile.department:
            extension["department"] = profile.department
        if profile.manager_id:
            extension["manager"] = {"value": profile.manager_id,
                                    "$ref": f"{self.base_url}/scim/v2/Users/{profile.manager_id}"}
        if extension:
            doc["schemas"].append(ENTERPRISE)
            doc[ENTERPRISE] = extension
        doc["meta"] = {"resourceType": "User", "created": profile.created_at,
                       "lastModified": profile.updated_at, "location": self.location(profile),
                       "version": etag(profile)}
        return _project(doc, attributes, excluded)

    def list_body(self, total: int, start: int, page: list[Profile],
                  attributes: str | None = None, excluded: str | None = None) -> dict:
        return list_response([self.to_resource(p, attributes, excluded) for p in page], total,
                             start)

    # Discovery (RFC 7644 §4) ---------------------------------------------------------
    def service_provider_config(self) -> dict:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": False},
            "sort": {"supported": False},
            "etag": {"supported": True},
            "authenticationSchemes": [{
                "type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": True,
                "description": "Authorization: Bearer <token>, for a token with the hr or "
                               "admin role.",
                "specUri": "https://www.rfc-editor.org/rfc/rfc6750"}],
            "meta": {"resourceType": "ServiceProviderConfig",
                     "location": f"{self.base_url}/scim/v2/ServiceProviderConfig"},
        }

    def resource_types(self) -> list[dict]:
        return [{
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User", "name": "User", "endpoint": "/Users",
            "description": "A person of the directory", "schema": CORE,
            "schemaExtensions": [{"schema": ENTERPRISE, "required": False}],
            "meta": {"resourceType": "ResourceType",
                     "location": f"{self.base_url}/scim/v2/ResourceTypes/User"},
        }]

    def schemas(self) -> list[dict]:
        def schema(urn: str, name: str, description: str, attributes: list[dict]) -> dict:
            return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": urn,
                    "name": name, "description": description, "attributes": attributes,
                    "meta": {"resourceType": "Schema",
                             "location": f"{self.base_url}/scim/v2/Schemas/{urn}"}}

        return [schema(CORE, "User", "A person of the directory", USER_SCHEMA),
                schema(ENTERPRISE, "EnterpriseUser", "Enterprise User", ENTERPRISE_SCHEMA)]


def _attribute(name: str, kind: str = "string", *, description: str = "", multi: bool = False,
               required: bool = False, case_exact: bool = False, mutability: str = "readWrite",
               uniqueness: str = "none", sub: list[dict] | None = None) -> dict:
    attribute = {"name": name, "type": kind, "multiValued": multi, "description": description,
                 "required": required, "caseExact": case_exact, "mutability": mutability,
                 "returned": "default", "uniqueness": uniqueness}
    if sub is not None:
        attribute["subAttributes"] = sub
    return attribute


USER_SCHEMA = [
    _attribute("userName", required=True, uniqueness="server",
               description="Unique identifier for the User, used to sign in."),
    _attribute("externalId", case_exact=True, description="The identity provider's id."),
    _attribute("name", "complex", description="The person's name.", sub=[
        _attribute("formatted", description="The full name; the directory shows it."),
        _attribute("givenName", description="Given name."),
        _attribute("familyName", description="Family name.")]),
    _attribute("displayName", description="Shown when name.formatted is absent."),
    _attribute("title", description="Job title (never used for routing)."),
    _attribute("preferredLanguage", description="First of the languages the person speaks."),
    _attribute("locale", description="Read like preferredLanguage."),
    _attribute("active", "boolean", description="Inactive people leave the directory search."),
    _attribute("emails", "complex", multi=True, description="The primary or work email counts.",
               sub=[_attribute("value"), _attribute("type"), _attribute("primary", "boolean")]),
    _attribute("addresses", "complex", multi=True,
               description="The work address locality is the person's site.",
               sub=[_attribute("type"), _attribute("locality"), _attribute("primary", "boolean")]),
]

ENTERPRISE_SCHEMA = [
    _attribute("employeeNumber", description="HR employee number."),
    _attribute("department", description="Department."),
    _attribute("manager", "complex", description="The person's manager.", sub=[
        _attribute("value", description="The manager's User id."),
        _attribute("$ref", "reference", mutability="readOnly")]),
]
