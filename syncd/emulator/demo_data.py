"""Deterministic, realistic demo data for the emulator, and random churn to follow.

`populate` fills countries, product categories, partner tags, companies with their contacts
and products (templates and variants) through a few `import_records` transactions, so many
rows share one write_date as after a real import. Same seed, same records (ids, names,
values); only the stamps follow the database clock. Product templates created here carry
their variants explicitly (the emulator does not auto-create variants).
"""

from __future__ import annotations

import random
import unicodedata
from typing import Any

from syncd.emulator.store import Database

COUNTRIES = [
    ("Belgium", "BE", 32, ["Brussels", "Antwerp", "Ghent", "Liège", "Namur"]),
    ("France", "FR", 33, ["Paris", "Lyon", "Marseille", "Lille", "Nantes"]),
    ("Germany", "DE", 49, ["Berlin", "Munich", "Hamburg", "Cologne", "Leipzig"]),
    ("Netherlands", "NL", 31, ["Amsterdam", "Rotterdam", "Utrecht", "Eindhoven"]),
    ("Luxembourg", "LU", 352, ["Luxembourg", "Esch-sur-Alzette"]),
    ("Spain", "ES", 34, ["Madrid", "Barcelona", "Valencia", "Seville"]),
    ("Italy", "IT", 39, ["Rome", "Milan", "Turin", "Bologna"]),
    ("Portugal", "PT", 351, ["Lisbon", "Porto", "Braga"]),
    ("United Kingdom", "GB", 44, ["London", "Manchester", "Leeds", "Bristol"]),
    ("Ireland", "IE", 353, ["Dublin", "Cork", "Galway"]),
    ("Switzerland", "CH", 41, ["Zurich", "Geneva", "Basel", "Lausanne"]),
    ("Austria", "AT", 43, ["Vienna", "Graz", "Salzburg"]),
    ("Denmark", "DK", 45, ["Copenhagen", "Aarhus", "Odense"]),
    ("Sweden", "SE", 46, ["Stockholm", "Gothenburg", "Malmö"]),
    ("Norway", "NO", 47, ["Oslo", "Bergen", "Trondheim"]),
    ("Finland", "FI", 358, ["Helsinki", "Espoo", "Tampere"]),
    ("Poland", "PL", 48, ["Warsaw", "Kraków", "Wrocław", "Gdańsk"]),
    ("Czech Republic", "CZ", 420, ["Prague", "Brno", "Ostrava"]),
    ("United States", "US", 1, ["New York", "Chicago", "San Francisco", "Austin", "Boston"]),
    ("Canada", "CA", 1, ["Toronto", "Montreal", "Vancouver"]),
    ("Mexico", "MX", 52, ["Mexico City", "Guadalajara", "Monterrey"]),
    ("Brazil", "BR", 55, ["São Paulo", "Rio de Janeiro", "Curitiba"]),
    ("India", "IN", 91, ["Mumbai", "Bangalore", "Pune", "Delhi"]),
    ("Japan", "JP", 81, ["Tokyo", "Osaka", "Nagoya"]),
    ("Australia", "AU", 61, ["Sydney", "Melbourne", "Brisbane"]),
]
FIRST = ["Alice", "Bruno", "Chloé", "David", "Emma", "Farid", "Greta", "Hugo", "Inès", "Jonas",
         "Klara", "Liam", "Maya", "Noah", "Olivia", "Pablo", "Quentin", "Rosa", "Sven", "Tara",
         "Umar", "Vera", "William", "Xavier", "Yuki", "Zoé", "Brandon", "Colleen", "Marc",
         "Sofia", "Lukas", "Anna", "Mateo", "Priya", "Kenji", "Julia", "Oscar", "Nina"]
LAST = ["Martin", "Dubois", "Peeters", "Janssens", "Müller", "Schmidt", "García", "Rossi",
        "Silva", "Smith", "Johnson", "Brown", "Nielsen", "Larsen", "Kowalski", "Novák",
        "Tanaka", "Sato", "Patel", "Sharma", "O'Brien", "Murphy", "Lefebvre", "Moreau",
        "Van Damme", "De Smet", "Freeman", "Diaz", "Fischer", "Weber", "Costa", "Eriksson"]
WORDS = ["Azure", "Nordic", "Cedar", "Summit", "Harbor", "Atlas", "Beacon", "Copper", "Delta",
         "Evergreen", "Falcon", "Granite", "Horizon", "Iris", "Juniper", "Keystone", "Lumen",
         "Maple", "Nova", "Orchid", "Pioneer", "Quartz", "Riverside", "Sterling", "Trident"]
TRADES = ["Interior", "Logistics", "Furniture", "Consulting", "Office Supplies", "Design",
          "Retail", "Systems", "Engineering", "Trading", "Hospitality", "Studio"]
SUFFIXES = ["", " SA", " NV", " GmbH", " Ltd", " Inc.", " BV", " SRL", " & Co"]
STREETS = ["Main Street", "Station Road", "Rue de la Loi", "Avenue Louise", "Kerkstraat",
           "Hauptstraße", "Calle Mayor", "Via Roma", "Park Lane", "Market Square",
           "Industrial Park", "Harbour Road", "Chaussée de Wavre", "Rue du Commerce"]
JOBS = ["Purchasing Manager", "Accountant", "CEO", "Sales Representative", "Office Manager",
        "Logistics Coordinator", "IT Manager", "Assistant"]
TAGS = ["Customer", "VIP", "Supplier", "Prospect", "Reseller"]
CATEGORIES = [  # (name, parent name, SKU prefix, items)
    ("All", None, None, []),
    ("Saleable", "All", None, []),
    ("Services", "All", "SERV", ["Installation", "Maintenance Plan", "Design Consultation",
                                 "On-site Training", "Delivery"]),
    ("Office Furniture", "Saleable", "FURN", ["Desk", "Chair", "Conference Table",
                                              "Standing Desk", "Bookcase", "Sofa"]),
    ("Lighting", "Saleable", "LAMP", ["Desk Lamp", "Floor Lamp", "Pendant Light",
                                      "LED Panel"]),
    ("Storage", "Saleable", "STOR", ["Drawer Unit", "Filing Cabinet", "Locker", "Shelf"]),
    ("Electronics", "Saleable", "ELEC", ["Monitor", "Docking Station", "Headset", "Webcam",
                                         "Keyboard"]),
]
MATERIALS = ["Oak", "Walnut", "Steel", "Black", "White", "Ergonomic", "Compact", "Premium",
             "Acoustic", "Modular", "Glass", "Bamboo"]
VARIANT_TAGS = ["BLK", "WHT", "OAK", "GRY"]


def ascii_slug(text: str, separator: str = "") -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return separator.join("".join(c for c in word if c.isalnum()).lower()
                          for word in plain.split() if any(c.isalnum() for c in word))


def ean13(digits12: str) -> str:
    """The 12 digits plus their EAN-13 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits12))
    return digits12 + str((10 - total % 10) % 10)


def phone(rng: random.Random, code: int) -> str:
    return f"+{code} {rng.randint(2, 9)}{rng.randint(10, 99)} {rng.randint(100, 999)} " \
           f"{rng.randint(1000, 9999)}"


def _company(rng: random.Random, countries: list[tuple[int, tuple[Any, ...]]],
             tag_ids: list[int]) -> dict[str, Any]:
    country_id, (_, code, calling, cities) = rng.choice(countries)
    name = f"{rng.choice(WORDS)} {rng.choice(TRADES)}{rng.choice(SUFFIXES)}"
    domain = f"{ascii_slug(name.split(' ')[0])}-{ascii_slug(name.split(' ')[1])}." \
             f"{'com' if code in ('US', 'CA') else code.lower()}"
    values: dict[str, Any] = {
        "name": name, "is_company": True, "email": f"info@{domain}",
        "phone": phone(rng, calling), "website": f"https://www.{domain}",
        "street": f"{rng.randint(1, 250)} {rng.choice(STREETS)}", "city": rng.choice(cities),
        "zip": str(rng.randint(1000, 99999)), "country_id": country_id,
        "customer_rank": rng.randint(1, 40), "category_id": [rng.choice(tag_ids)],
    }
    if rng.random() < 0.7:
        values["vat"] = f"{code}{rng.randint(10**8, 10**10 - 1)}"
    if rng.random() < 0.3:
        values["ref"] = f"C{rng.randint(10000, 99999)}"
    return values


def _contact(rng: random.Random, company_id: int, company: dict[str, Any]) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    domain = str(company["email"]).split("@", 1)[1]
    calling = str(company["phone"]).split(" ", 1)[0].lstrip("+")
    values = {"name": f"{first} {last}", "parent_id": company_id, "is_company": False,
              "email": f"{ascii_slug(first)}.{ascii_slug(last)}@{domain}",
              "phone": phone(rng, int(calling)), "function": rng.choice(JOBS),
              "country_id": company["country_id"], "city": company["city"]}
    return values


def populate(db: Database, *, customers: int = 800, products: int = 2000, seed: int = 0) -> None:
    """Fill `db` with `customers` partners (companies and contacts) and `products` variants."""
    rng = random.Random(seed)
    with db.transaction() as tx:  # module data: one install transaction
        country_ids = tx.import_records("res.country", [
            {"name": name, "code": code, "phone_code": calling}
            for name, code, calling, _ in COUNTRIES])
        tag_ids = tx.import_records("res.partner.category", [{"name": tag} for tag in TAGS])
        categories: dict[str, int] = {}
        for name, parent, _, _ in CATEGORIES:
            values: dict[str, Any] = {"name": name}
            if parent:
                values["parent_id"] = categories[parent]
            categories[name] = tx.create("product.category", values)
    countries = list(zip(country_ids, COUNTRIES, strict=True))
    company_count = max(1, customers // 4) if customers else 0
    companies = [_company(rng, countries, tag_ids) for _ in range(company_count)]
    company_ids = db.import_records("res.partner", companies)
    contacts = []
    for _ in range(customers - company_count):
        index = rng.randrange(company_count)
        contacts.append(_contact(rng, company_ids[index], companies[index]))
    db.import_records("res.partner", contacts)
    _populate_products(db, rng, categories, products)


def _populate_products(db: Database, rng: random.Random, categories: dict[str, int],
                       count: int) -> None:
    saleable = [entry for entry in CATEGORIES if entry[2]]
    serial = 0
    with db.transaction() as tx:
        made = 0
        while made < count:
            name, _, prefix, items = rng.choice(saleable)
            variants = min(count - made, rng.choice([1, 1, 1, 2, 3]) if prefix != "SERV" else 1)
            price = round(rng.uniform(9, 1500), 0) - 0.01 if prefix != "SERV" else \
                float(rng.choice([90, 150, 350, 600]))
            template: dict[str, Any] = {
                "name": f"{rng.choice(MATERIALS)} {rng.choice(items)}",
                "categ_id": categories[name], "list_price": price,
                "standard_price": round(price * rng.uniform(0.4, 0.7), 2),
                "type": "service" if prefix == "SERV" else "consu",
                "sale_ok": True, "purchase_ok": prefix != "SERV",
                "weight": 0.0 if prefix == "SERV" else round(rng.uniform(0.2, 60), 1)}
            template_id = tx.create("product.template", template)
            rows = []
            for position in range(variants):
                serial += 1
                code = f"{prefix}-{serial:04d}"
                if variants > 1:
                    code += f"-{VARIANT_TAGS[position]}"
                rows.append({"product_tmpl_id": template_id, "default_code": code,
                             "barcode": ean13(f"{rng.randint(10**11, 10**12 - 1)}"),
                             "standard_price": template["standard_price"]})
            tx.import_records("product.product", rows)
            made += variants


def churn(db: Database, rng: random.Random, n: int = 5) -> list[str]:
    """Make `n` random realistic changes, each its own transaction; one line per change."""
    done: list[str] = []
    actions = [_rename, _reprice, _new_contact, _toggle_product, _delete_contact, _new_phone]
    for _ in range(n):
        line = rng.choice(actions)(db, rng)
        if line:
            done.append(line)
    return done


def _pick(db: Database, model: str, rng: random.Random, **where: Any) -> dict[str, Any] | None:
    with db.lock:
        rows = db.tables[model].rows
        ids = db.tables[model].ids
        for _ in range(20):
            if not ids:
                return None
            row = rows[ids[rng.randrange(len(ids))]]
            if all(bool(row.get(key, key == "active")) == want for key, want in where.items()):
                return dict(row)
    return None


def _rename(db: Database, rng: random.Random) -> str | None:
    row = _pick(db, "res.partner", rng, is_company=False)
    if row is None:
        return None
    first, _, last = str(row.get("name", "")).partition(" ")  # demo contacts: "First Last"
    new = f"{rng.choice([name for name in FIRST if name != first])} {last}".strip()
    db.write("res.partner", row["id"], {"name": new})
    return f"res.partner {row['id']}: renamed {row.get('name')!r} -> {new!r}"


def _reprice(db: Database, rng: random.Random) -> str | None:
    row = _pick(db, "product.template", rng)
    if row is None:
        return None
    price = round(float(row.get("list_price", 10.0)) * rng.uniform(0.9, 1.15), 2)
    db.write("product.template", row["id"], {"list_price": price})
    return f"product.template {row['id']}: list_price {row.get('list_price')} -> {price}"


def _new_contact(db: Database, rng: random.Random) -> str | None:
    company = _pick(db, "res.partner", rng, is_company=True)
    if company is None or not company.get("email"):
        return None
    values = _contact(rng, company["id"], company)
    new_id = db.create("res.partner", values)
    return f"res.partner {new_id}: new contact {values['name']!r} at {company['name']!r}"


def _toggle_product(db: Database, rng: random.Random) -> str | None:
    row = _pick(db, "product.product", rng)
    if row is None:
        return None
    if row.get("active", True):
        db.archive("product.product", row["id"])
        return f"product.product {row['id']}: archived {row.get('default_code')}"
    db.unarchive("product.product", row["id"])
    return f"product.product {row['id']}: unarchived {row.get('default_code')}"


def _delete_contact(db: Database, rng: random.Random) -> str | None:
    row = _pick(db, "res.partner", rng, is_company=False)
    if row is None:
        return None
    db.unlink("res.partner", row["id"])
    return f"res.partner {row['id']}: deleted {row.get('name')!r}"


def _new_phone(db: Database, rng: random.Random) -> str | None:
    row = _pick(db, "res.partner", rng)
    if row is None:
        return None
    number = phone(rng, rng.choice(COUNTRIES)[2])
    db.write("res.partner", row["id"], {"phone": number})
    return f"res.partner {row['id']}: phone -> {number}"
