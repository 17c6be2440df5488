"""The consent text a patient signs before a first session. Change the text => change the version: each
signature stores the version and the exact text shown."""

CONSENT_VERSION = "2026-11-v1"
CONSENT_TEXT = """\
I consent to microneedling (collagen induction therapy) for cellulite, carried out by a practitioner of the clinic.

I understand that:
- the treatment makes fine channels in the skin with sterile single-use needles, after a numbing cream;
- redness, swelling, pinpoint bleeding and bruising are common for a few days; rarely, infection, changes \
in skin colour or scarring can happen;
- results build over weeks and vary from person to person; a course usually needs several sessions;
- I have answered the health form truthfully and will tell the clinic before each session if anything \
has changed, including new medicines, pregnancy or skin problems in the area;
- I will follow the aftercare advice, and call the clinic if I see signs of infection;
- I can withdraw my consent at any time, including during a session.
"""
