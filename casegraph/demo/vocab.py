"""Word lists of the synthetic city: names, streets, MO codes and the phrases narratives are built from.

Everything here is invented or generic; no list holds a protected attribute (race, nationality, religion).
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


OFFENCES: tuple[str, ...] = ("robbery", "burglary", "theft", "vehicle_theft", "theft_from_vehicle")

# Per offence: the codes an agency would record. The first weapon is the most common one.
MO: dict[str, dict[str, tuple[str, ...]]] = {
    "robbery": {
        "premises": ("street", "commercial", "transit", "parking"),
        "entry": ("none", "approach_from_behind", "distraction", "follow_home", "ambush"),
        "target": ("pedestrian", "shop_worker", "delivery_driver", "cyclist", "atm_user", "phone_user"),
        "other": ("masked", "hooded", "group_surround", "getaway_scooter", "lookout", "violence_used"),
        "weapon": ("knife", "threat", "handgun", "blunt", "none"),
        "property": ("phone", "cash", "wallet", "jewellery", "bag", "watch"),
    },
    "burglary": {
        "premises": ("house", "apartment", "commercial"),
        "entry": ("forced_door", "window", "unlocked", "smashed_glass", "lock_snapping", "rear_entry"),
        "target": ("occupied_dwelling", "unoccupied_dwelling", "garage", "shop", "office"),
        "other": ("ransacked", "tidy_search", "searched_bedrooms", "alarm_disabled", "key_fishing", "gloves"),
        "weapon": ("none", "blunt"),
        "property": ("cash", "jewellery", "electronics", "laptop", "car_keys", "tools", "watch"),
    },
    "theft": {
        "premises": ("commercial", "street", "transit"),
        "entry": ("none", "distraction", "sleight_of_hand", "unlocked"),
        "target": ("shop_goods", "pickpocket_victim", "parcel", "bicycle", "unattended_bag"),
        "other": ("team_of_two", "foil_lined_bag", "lookout", "repeat_store", "rushed_exit"),
        "weapon": ("none",),
        "property": ("phone", "wallet", "cash", "bicycle", "clothing", "cosmetics", "alcohol", "parcel"),
    },
    "vehicle_theft": {
        "premises": ("street", "parking", "house"),
        "entry": ("relay_attack", "key_theft", "smashed_glass", "unlocked", "forced_lock"),
        "target": ("suv", "hatchback", "sedan", "van", "motorcycle", "pickup"),
        "other": ("plates_swapped", "tracker_removed", "towed", "driven_off_fast", "night_operation"),
        "weapon": ("none",),
        "property": ("vehicle",),
    },
    "theft_from_vehicle": {
        "premises": ("street", "parking", "house"),
        "entry": ("smashed_glass", "unlocked", "forced_lock", "window_punch"),
        "target": ("parked_car", "van", "work_vehicle", "pickup"),
        "other": ("catalytic_cut", "multiple_cars", "glovebox_searched", "tools_targeted", "night_operation"),
        "weapon": ("none",),
        "property": ("sat_nav", "tools", "bag", "laptop", "catalytic_converter", "cash", "sunglasses"),
    },
}

# Typical hour of day per offence (crews shift it by a few hours) and whether a witness usually sees them.
DEFAULT_HOUR: dict[str, float] = {
    "robbery": 21.0,
    "burglary": 13.0,
    "theft": 15.0,
    "vehicle_theft": 2.0,
    "theft_from_vehicle": 1.0,
}
WITNESSED: dict[str, float] = {
    "robbery": 0.95,
    "burglary": 0.2,
    "theft": 0.5,
    "vehicle_theft": 0.15,
    "theft_from_vehicle": 0.2,
}
VEHICLE_USE: dict[str, float] = {
    "robbery": 0.35,
    "burglary": 0.5,
    "theft": 0.15,
    "vehicle_theft": 0.6,
    "theft_from_vehicle": 0.4,
}
VICTIM_RATE: dict[str, float] = {
    "robbery": 0.9,
    "burglary": 0.6,
    "theft": 0.45,
    "vehicle_theft": 0.5,
    "theft_from_vehicle": 0.4,
}
CHARGE: dict[str, str] = {
    "robbery": "armed robbery",
    "burglary": "residential burglary",
    "theft": "theft",
    "vehicle_theft": "motor vehicle theft",
    "theft_from_vehicle": "burglary to vehicle",
}

COLOURS = ("dark", "black", "silver", "white", "red", "blue", "grey", "green")
BODIES = ("hatchback", "sedan", "suv", "van", "pickup", "scooter", "moped")
CLOTHING = (
    "dark hoodie",
    "black balaclava",
    "grey tracksuit",
    "hi-vis vest",
    "puffer jacket",
    "face mask and gloves",
    "red cap",
    "white trainers",
    "camouflage jacket",
    "jeans and black jacket",
)
BUILDS = ("slim", "medium", "heavy", "athletic")

# Narrative phrases; a code missing here is spoken as its words ("lock_snapping" -> "lock snapping").
PHRASES: dict[str, str] = {
    "none": "",
    "forced_door": "forced the door",
    "window": "got in through a window",
    "unlocked": "used an unlocked door",
    "smashed_glass": "smashed a glass pane",
    "lock_snapping": "snapped the cylinder lock",
    "rear_entry": "entered at the rear",
    "approach_from_behind": "approached from behind",
    "distraction": "distracted the victim",
    "follow_home": "followed the victim home",
    "ambush": "waited in ambush",
    "sleight_of_hand": "lifted items unnoticed",
    "relay_attack": "used a keyless relay device",
    "key_theft": "used keys stolen earlier",
    "forced_lock": "forced the lock",
    "window_punch": "punched out a side window",
    "threat": "threatened violence",
    "knife": "showed a knife",
    "handgun": "showed a handgun",
    "blunt": "carried a blunt object",
    "gloves": "glove marks",
}
TEMPLATES: dict[str, tuple[str, ...]] = {
    "robbery": (
        "{who} {entry} and robbed a {target} at a {premises} location; {weapon}. Took {prop}.{veh}",
        "Victim ({target}) robbed in {premises} area by {who}, who {entry}; {weapon}; {other}. Lost {prop}.{veh}",
    ),
    "burglary": (
        "Burglary of {premises} ({target}): {who} {entry}, {other}. Stolen: {prop}.{veh}",
        "{who} {entry} at the {premises} and took {prop}; scene shows {other}.{veh}",
    ),
    "theft": (
        "Theft at {premises} premises: {who} {entry} and took {prop} ({target}); {other}.{veh}",
        "{target} theft by {who} in {premises} setting, {other}. Missing: {prop}.{veh}",
    ),
    "vehicle_theft": (
        "{target} taken from a {premises} location; {who} {entry}, {other}.{veh}",
        "Vehicle ({target}) stolen, {premises} location: offender {entry}; {other}.{veh}",
    ),
    "theft_from_vehicle": (
        "Theft from {target} parked at a {premises} location: {who} {entry}, took {prop}; {other}.{veh}",
        "{who} {entry} on a {target} ({premises}) and removed {prop}; {other}.{veh}",
    ),
}

MALE_NAMES = _words(
    "James Robert John Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew "
    "Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald Edward Jason "
    "Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Lawrence Justin Scott Brandon Benjamin Samuel "
    "Gregory Alexander Patrick Frank Raymond Dennis Gerald Tyler Aaron Jose Adam Nathan Henry Zachary "
    "Douglas Peter Luis Carlos Juan Miguel Terrell Darnell Andre Marcus Jamal Malik Tomasz Dmitri Wei"
)
FEMALE_NAMES = _words(
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Margaret Sandra "
    "Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy Melissa Deborah Stephanie Rebecca Sharon "
    "Laura Cynthia Katherine Amy Angela Anna Brenda Pamela Emma Nicole Helen Samantha Christine Rachel "
    "Catherine Janet Maria Heather Diane Julie Victoria Kelly Lauren Judith Tanisha Keisha Latoya Rosa "
    "Ana Agnieszka Mei"
)
FAMILY_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
    "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker "
    "Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper "
    "Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James "
    "Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez "
    "Kowalski Nowak Wisniewski Novak Petrov Okafor Mensah Washington Jefferson Dubois Schmidt Russo"
)
# Given name -> its common short forms; records often carry the short form.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Robert": ("Bob", "Rob", "Bobby"),
    "William": ("Bill", "Will", "Billy"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "John": ("Johnny", "Jack"),
    "Michael": ("Mike", "Mikey"),
    "Richard": ("Rick", "Rich", "Dick"),
    "Joseph": ("Joe", "Joey"),
    "Thomas": ("Tom", "Tommy"),
    "Charles": ("Charlie", "Chuck"),
    "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt",),
    "Anthony": ("Tony",),
    "Donald": ("Don", "Donnie"),
    "Steven": ("Steve",),
    "Stephen": ("Steve",),
    "Andrew": ("Andy", "Drew"),
    "Joshua": ("Josh",),
    "Kenneth": ("Ken", "Kenny"),
    "Timothy": ("Tim",),
    "Ronald": ("Ron", "Ronnie"),
    "Edward": ("Ed", "Eddie", "Ted"),
    "Jeffrey": ("Jeff",),
    "Jacob": ("Jake",),
    "Nicholas": ("Nick",),
    "Jonathan": ("Jon",),
    "Lawrence": ("Larry",),
    "Benjamin": ("Ben",),
    "Samuel": ("Sam",),
    "Gregory": ("Greg",),
    "Alexander": ("Alex",),
    "Patrick": ("Pat",),
    "Raymond": ("Ray",),
    "Gerald": ("Jerry",),
    "Zachary": ("Zach",),
    "Douglas": ("Doug",),
    "Peter": ("Pete",),
    "Elizabeth": ("Liz", "Beth", "Betty"),
    "Patricia": ("Pat", "Patty", "Trish"),
    "Jennifer": ("Jen", "Jenny"),
    "Margaret": ("Maggie", "Peggy"),
    "Susan": ("Sue",),
    "Jessica": ("Jess",),
    "Kimberly": ("Kim",),
    "Deborah": ("Deb", "Debbie"),
    "Rebecca": ("Becky",),
    "Katherine": ("Kate", "Kathy"),
    "Christine": ("Chris",),
    "Samantha": ("Sam",),
    "Victoria": ("Vicky",),
    "Pamela": ("Pam",),
    "Cynthia": ("Cindy",),
    "Judith": ("Judy",),
    "Catherine": ("Cathy",),
}
STREET_ALIASES = _words(
    "Smokey Ghost Tiny Ace Dre Boo Bam Lil-D Red Slim Shorty Junior Tank Bishop Blaze Chino Flaco Moose "
    "Pookie Scrap Spider Trigger Vee Wiz Zeke Nino Duke Sly Mouse Cash Lucky Pepper Taz"
)
STREETS = _words(
    "Armitage Fullerton Diversey Belmont Addison Montrose Lawrence Foster Division Grand Madison Roosevelt "
    "Cermak Pershing Garfield Western Kedzie Pulaski Cicero Central Harlem Ashland Damen Halsted Racine "
    "California Sacramento Kostner Laramie Austin Milwaukee Ogden Archer Elston Clybourn Lincoln Ridge "
    "Sheridan Wabash Kinzie Augusta Wolcott Hoyne Leavitt"
)
STREET_TYPES = (("Ave", "Avenue"), ("St", "Street"), ("Blvd", "Boulevard"), ("Rd", "Road"))
DIRECTIONS = (("N", "North"), ("S", "South"), ("E", "East"), ("W", "West"))
# Deliberately whimsical so no name matches a real group.
CREW_NAMES = (
    "Copper Foxes",
    "Quarry Lane Crew",
    "Silver Moths",
    "Iron Kettles",
    "Red Finches",
    "Nine Lanterns",
    "Blue Herons",
    "Glass Owls",
    "Velvet Jackals",
    "Cinder Block Crew",
    "Marble Hares",
    "Tin Whistle Boys",
)
SOFT_CRITERIA = (
    "self_admission",
    "identified_by_reliable_informant",
    "corroborated_by_other_source",
    "group_tattoos_or_symbols",
    "frequents_group_area",
    "group_clothing_or_signs",
    "named_in_court_record",
)
# Per agency: (user prefix, analyst surnames, supervisor surname).
USERS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("mpd", ("okafor", "lindqvist", "marsh", "duarte"), "sgt.ramirez"),
    ("cso", ("whitcombe", "abara"), "lt.hollis"),
    ("tpd", ("brennan", "osei"), "sgt.vance"),
)
