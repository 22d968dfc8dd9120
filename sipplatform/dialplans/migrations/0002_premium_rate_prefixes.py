"""Pre-fill the platform-wide destination policy with common premium-rate and satellite ranges.

Prefixes are digits after ``+``/``00`` (international form) or as dialled nationally:

| prefix | what |
|---|---|
| 0909, 44909 | UK sexual entertainment services (premium rate) |
| 0908, 44908 | UK premium rate (other services) |
| 0906, 44906 | UK premium rate |
| 0871, 0872, 0873, 44871, 44872, 44873 | UK service-charge numbers |
| 070, 4470 | UK personal numbers (widely abused in fraud) |
| 1900 | US/Canada premium rate (NANP 900) |
| 1976 | US/Canada legacy premium exchange 976 |
| 61190 | Australia premium rate (190x) |
| 870 | Inmarsat satellite |
| 881 | Global Mobile Satellite System (Iridium, Thuraya, ...) |
| 882, 883 | International Networks (shared ITU codes, high-cost carriers) |
| 979 | International Premium Rate Service (ITU) |

The list is a frozen copy: later changes belong in new migrations or in the admin.
"""

from django.db import migrations

PREMIUM_RATE_PREFIXES = [
    "0909",
    "44909",
    "0908",
    "44908",
    "0906",
    "44906",
    "0871",
    "0872",
    "0873",
    "44871",
    "44872",
    "44873",
    "070",
    "4470",
    "1900",
    "1976",
    "61190",
    "870",
    "881",
    "882",
    "883",
    "979",
]


def add_prefixes(apps, schema_editor):
    DestinationPolicy = apps.get_model("dialplans", "DestinationPolicy")
    policy, _ = DestinationPolicy.objects.get_or_create(customer=None)
    policy.denied_prefixes = sorted(set(policy.denied_prefixes) | set(PREMIUM_RATE_PREFIXES))
    policy.save(update_fields=["denied_prefixes"])


def remove_prefixes(apps, schema_editor):
    DestinationPolicy = apps.get_model("dialplans", "DestinationPolicy")
    for policy in DestinationPolicy.objects.filter(customer=None):
        policy.denied_prefixes = sorted(set(policy.denied_prefixes) - set(PREMIUM_RATE_PREFIXES))
        policy.save(update_fields=["denied_prefixes"])


class Migration(migrations.Migration):
    dependencies = [("dialplans", "0001_initial")]

    operations = [migrations.RunPython(add_prefixes, remove_prefixes)]
