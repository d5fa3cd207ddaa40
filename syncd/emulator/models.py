"""The emulated models and their fields, per Odoo major version.

A lean schema: each model lists its fields (type, label, comodel), its default `_order`
(copied from Odoo's source) and whether it has `active`. Stored computed fields carry the
`depends` Odoo reports for them in fields_get (odoo/fields.py `_description_depends`):
res.partner's `complete_name` is stored, so renaming a company rewrites its contacts (and moves
their `write_date`, docs/odoo-api.md §9); product.product's `write_date` is itself a stored
compute depending on `product_tmpl_id.write_date` (addons/product/models/product_product.py
`_compute_write_date`), so a template write moves its variants' stamps (§10). Two `_inherits`
pairs: product.product -> product.template (`product_tmpl_id`) and res.users -> res.partner
(`partner_id`); parent fields read and search through the child, and for res.users a partner
write leaves the user's `write_date` alone (§10).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAGIC = ("id", "display_name", "create_date", "write_date")


@dataclass(frozen=True)
class Field:
    """One field as fields_get describes it; `store` False means computed on read."""

    name: str
    type: str
    string: str
    relation: str | None = None
    inverse: str | None = None            # one2many: the comodel's many2one back to us
    selection: tuple[tuple[str, str], ...] = ()
    required: bool = False
    readonly: bool = False
    store: bool = True
    inherited_from: str | None = None     # the _inherits parent model holding the value
    via: str | None = None                # the _inherits link (our many2one to that parent)
    computed: bool = False                # a stored compute: Odoo writes it, callers cannot
    depends: tuple[str, ...] = ()         # what fields_get reports as `depends`
    translate: bool = False               # values per language (translations.py)
    related: str | None = None            # "link.field": read through a many2one, not stored
    company_dependent: bool = False       # a value per company (one value here); see describe

    def default(self) -> Any:
        """The value of a row that never set this field, as Python holds it."""
        if self.type in ("one2many", "many2many"):
            return []
        if self.type == "boolean":
            return False
        if self.type == "integer":
            return 0
        if self.type == "float":
            return 0.0
        return False

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "type": self.type, "string": self.string, "required": self.required,
            "readonly": self.readonly, "store": self.store, "searchable": True,
            "sortable": self.store and self.type not in ("one2many", "many2many"),
            "help": "", "manual": False, "company_dependent": False, "change_default": False,
            "groupable": self.store, "exportable": True, "name": self.name,
        }
        if self.relation:
            info["relation"] = self.relation
        if self.type == "selection":
            info["selection"] = [list(pair) for pair in self.selection]
        if self.type == "one2many":
            info["relation_field"] = self.inverse
        info["depends"] = list(self.depends)
        info["translate"] = self.translate
        info["company_dependent"] = self.company_dependent
        if self.related:
            info["related"] = self.related
            info["depends"] = [self.related]
        if self.inherited_from:
            # An _inherits field is a related field on the child, and related fields are not
            # stored (Odoo's fields.py: "by default, related fields are not stored"); a related
            # field depends on its path (Field.get_depends).
            info["related"] = f"{self.via}.{self.name}"
            info["store"] = False
            info["depends"] = [f"{self.via}.{self.name}"]
        return info


@dataclass
class Model:
    """A model's schema: fields by name, default order, active flag, _inherits link."""

    name: str
    description: str
    order: str
    fields: dict[str, Field] = field(default_factory=dict)
    parent_name: str | None = None       # the field child_of/parent_of walk
    inherits: tuple[str, str] | None = None  # (parent model, link field)

    @property
    def has_active(self) -> bool:
        return "active" in self.fields


def _f(name: str, kind: str, string: str, **extra: Any) -> Field:
    return Field(name, kind, string, **extra)


def _magic() -> list[Field]:
    return [_f("id", "integer", "ID", readonly=True),
            _f("display_name", "char", "Display Name", readonly=True, store=False),
            _f("create_date", "datetime", "Created on", readonly=True),
            _f("write_date", "datetime", "Last Updated on", readonly=True)]


def _inherited(fields: list[Field], parent: str, link: str, own: set[str]) -> list[Field]:
    """The parent's fields as an `_inherits` child shows them (all but its own and x2many)."""
    return [Field(**{**item.__dict__, "inherited_from": parent, "via": link})
            for item in fields if item.name not in own and item.type != "one2many"]


def _model(name: str, description: str, order: str, fields: list[Field], **extra: Any) -> Model:
    model = Model(name, description, order, **extra)
    for item in _magic() + fields:
        model.fields[item.name] = item
    return model


def _selection(*pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple((pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2))


def build_schema(version: int) -> dict[str, Model]:
    """The models of an Odoo `version` (16..19) database, keyed by model name."""
    partner_fields = [
        _f("name", "char", "Name"),
        _f("complete_name", "char", "Complete Name", readonly=True, computed=True,
           depends=("is_company", "name", "parent_id.name", "type", "commercial_company_name")),
        _f("active", "boolean", "Active"),
        _f("email", "char", "Email"), _f("phone", "char", "Phone"),
        _f("is_company", "boolean", "Is a Company"),
        _f("company_type", "selection", "Company Type", store=False,
           selection=_selection("person", "Individual", "company", "Company")),
        _f("parent_id", "many2one", "Related Company", relation="res.partner"),
        # stored computes (odoo/addons/base/models/res_partner.py): renaming the company
        # recomputes commercial_company_name on its contacts, which stamps them
        _f("commercial_partner_id", "many2one", "Commercial Entity", relation="res.partner",
           readonly=True, computed=True, depends=("is_company", "parent_id.commercial_partner_id")),
        _f("commercial_company_name", "char", "Company Name Entity", readonly=True,
           computed=True, depends=("company_name", "parent_id.is_company",
                                   "commercial_partner_id.name")),
        _f("company_name", "char", "Company Name"),
        # company-dependent: ir.property on 17 (fields_get says store False), JSONB on 18+
        _f("barcode", "char", "Barcode", company_dependent=True, store=version >= 18),
        _f("child_ids", "one2many", "Contact", relation="res.partner", inverse="parent_id"),
        _f("street", "char", "Street"), _f("street2", "char", "Street2"),
        _f("city", "char", "City"), _f("zip", "char", "Zip"),
        _f("country_id", "many2one", "Country", relation="res.country"),
        _f("vat", "char", "Tax ID"), _f("ref", "char", "Reference"),
        _f("website", "char", "Website Link"), _f("function", "char", "Job Position"),
        _f("comment", "html" if version >= 16 else "text", "Notes"),
        _f("customer_rank", "integer", "Customer Rank"),
        _f("supplier_rank", "integer", "Supplier Rank"),
        _f("lang", "selection", "Language", selection=_selection(
            "en_US", "English (US)", "fr_FR", "French / Français", "de_DE", "German / Deutsch",
            "nl_BE", "Dutch (BE) / Nederlands (BE)", "es_ES", "Spanish / Español")),
        _f("tz", "selection", "Timezone", selection=_selection(
            "UTC", "UTC", "Europe/Brussels", "Europe/Brussels", "Europe/Paris", "Europe/Paris",
            "America/New_York", "America/New_York", "Asia/Kolkata", "Asia/Kolkata")),
        _f("category_id", "many2many", "Tags", relation="res.partner.category"),
    ]
    if version < 19:  # removed in saas-18.2 (odoo/odoo#189739), so first gone in 19.0
        partner_fields.append(_f("mobile", "char", "Mobile"))
    if version >= 18:
        goods = _selection("consu", "Goods", "service", "Service", "combo", "Combo")
    else:
        goods = _selection("consu", "Consumable", "service", "Service", "product",
                           "Storable Product")
    template_fields = [
        _f("name", "char", "Name", required=True, translate=True),
        _f("active", "boolean", "Active"),
        _f("default_code", "char", "Internal Reference"),
        _f("barcode", "char", "Barcode"),
        _f("description", "html", "Description", translate=True),
        _f("list_price", "float", "Sales Price"), _f("standard_price", "float", "Cost"),
        _f("categ_id", "many2one", "Product Category", relation="product.category"),
        _f("type", "selection", "Product Type", selection=goods),
        _f("sale_ok", "boolean", "Can be Sold"), _f("purchase_ok", "boolean", "Can be Purchased"),
        _f("priority", "selection", "Favorite", selection=_selection("0", "Normal", "1",
                                                                     "Favorite")),
        _f("weight", "float", "Weight"),
        _f("uom_id", "many2one", "Unit of Measure", relation="uom.uom"),
        # related, not stored (addons/product/models/product_template.py): a unit renamed moves
        # no template's (nor variant's) write_date
        _f("uom_name", "char", "Unit of Measure Name", readonly=True, store=False,
           related="uom_id.name"),
        _f("product_variant_ids", "one2many", "Products", relation="product.product",
           inverse="product_tmpl_id"),
        # non-stored computes (product_template.py): the unit labels come from a system
        # parameter (no depends), the count from the variants; none moves a write_date
        _f("weight_uom_name", "char", "Weight unit of measure label", readonly=True,
           store=False),
        _f("volume_uom_name", "char", "Volume unit of measure label", readonly=True,
           store=False),
        _f("product_variant_count", "integer", "# Product Variants", readonly=True, store=False,
           depends=("product_variant_ids.product_tmpl_id",)),
    ]
    own_variant = {"active", "default_code", "barcode", "standard_price"}
    variant_fields = [
        _f("product_tmpl_id", "many2one", "Product Template", relation="product.template",
           required=True),
        _f("active", "boolean", "Active"), _f("default_code", "char", "Internal Reference"),
        _f("barcode", "char", "Barcode"),
        _f("standard_price", "float", "Cost", company_dependent=True, store=version >= 18),
        _f("lst_price", "float", "Sales Price", store=False),
    ]
    variant_fields += _inherited(template_fields, "product.template", "product_tmpl_id",
                                 own_variant)
    # product.product's write_date is a stored compute: max(own, template's) (product_product.py)
    variant_fields.append(_f("write_date", "datetime", "Last Updated on", readonly=True,
                             computed=True, depends=("product_tmpl_id.write_date",)))
    user_fields = [
        _f("login", "char", "Login", required=True), _f("active", "boolean", "Active"),
        _f("partner_id", "many2one", "Related Partner", relation="res.partner", required=True),
        _f("share", "boolean", "Share User", readonly=True),
    ]
    user_fields += _inherited(partner_fields, "res.partner", "partner_id", {"active"})
    models = [
        _model("res.partner", "Contact", "complete_name ASC, id DESC", partner_fields,
               parent_name="parent_id"),
        _model("uom.uom", "Product Unit of Measure", "factor DESC, id", [
            _f("name", "char", "Unit of Measure", required=True, translate=True),
            _f("active", "boolean", "Active")]),
        _model("res.partner.category", "Partner Tags", "name", [
            _f("name", "char", "Tag Name", required=True, translate=True),
            _f("active", "boolean", "Active"),
            _f("parent_id", "many2one", "Parent Category", relation="res.partner.category"),
            _f("color", "integer", "Color")], parent_name="parent_id"),
        _model("res.country", "Country", "name", [
            _f("name", "char", "Country Name", required=True, translate=True),
            _f("code", "char", "Country Code"),
            _f("phone_code", "integer", "Country Calling Code")]),
        _model("product.category", "Product Category", "complete_name", [
            _f("name", "char", "Name", required=True),
            # stored in Odoo (addons/product/models/product_category.py, recursive compute)
            _f("complete_name", "char", "Complete Name", readonly=True, computed=True,
               depends=("name", "parent_id.complete_name")),
            _f("parent_id", "many2one", "Parent Category", relation="product.category"),
            _f("child_id", "one2many", "Child Categories", relation="product.category",
               inverse="parent_id")], parent_name="parent_id"),
        _model("product.template", "Product", "priority desc, name", template_fields),
        _model("product.product", "Product Variant", "priority desc, default_code, name, id",
               variant_fields, inherits=("product.template", "product_tmpl_id")),
        _model("res.users", "User", "name, login", user_fields,
               inherits=("res.partner", "partner_id")),
    ]
    # res.partner's display_name is computed from its own stored fields (res_partner.py
    # _compute_display_name), so a change of any of them moves write_date
    partner = models[0]
    partner.fields["display_name"] = Field(
        "display_name", "char", "Display Name", readonly=True, store=False,
        depends=("complete_name", "email", "vat", "country_id", "commercial_company_name"))
    return {model.name: model for model in models}


# Fields whose default is True in Odoo (a row that never set them is active, sellable ...).
TRUE_BY_DEFAULT = frozenset({"active", "sale_ok", "purchase_ok"})
DEFAULTS: dict[tuple[str, str], Any] = {
    ("product.template", "type"): "consu",
    ("product.template", "priority"): "0",
}


def default_of(model: Model, item: Field) -> Any:
    """A never-set field's value: Odoo's default for it, else the empty value of its type."""
    if item.name in TRUE_BY_DEFAULT and item.type == "boolean":
        return True
    owner = item.inherited_from or model.name
    return DEFAULTS.get((owner, item.name), item.default())
