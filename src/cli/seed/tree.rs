//! The seeded category tree: departments, their sections, and the leaves products are
//! filed under. Slugs are the path of slugified names (`clothing-shirts-linen`), so they
//! are unique and readable.

/// (department, [(section, [leaf])]).
pub(super) type Department = (
    &'static str,
    &'static [(&'static str, &'static [&'static str])],
);

pub(super) const TREE: &[Department] = &[
    (
        "Clothing",
        &[
            (
                "Shirts",
                &[
                    "Linen",
                    "Flannel",
                    "Oxford",
                    "Denim",
                    "Short-sleeve",
                    "Polo",
                ],
            ),
            (
                "Trousers",
                &["Chinos", "Jeans", "Corduroy", "Joggers", "Shorts"],
            ),
            (
                "Knitwear",
                &["Jumpers", "Cardigans", "Hoodies", "Vests", "Turtlenecks"],
            ),
            (
                "Outerwear",
                &[
                    "Raincoats",
                    "Parkas",
                    "Gilets",
                    "Wool coats",
                    "Denim jackets",
                    "Scarves",
                ],
            ),
            (
                "Dresses and skirts",
                &[
                    "Midi dresses",
                    "Maxi dresses",
                    "Shirt dresses",
                    "Pleated skirts",
                    "Wrap skirts",
                ],
            ),
            (
                "Underwear and socks",
                &["Socks", "Boxers", "Briefs", "Thermals", "Tights"],
            ),
            (
                "Nightwear",
                &["Pyjamas", "Robes", "Nightshirts", "Slippers", "Loungewear"],
            ),
        ],
    ),
    (
        "Home and kitchen",
        &[
            (
                "Cookware",
                &[
                    "Frying pans",
                    "Saucepans",
                    "Casseroles",
                    "Woks",
                    "Roasting tins",
                    "Skillets",
                ],
            ),
            (
                "Tea and coffee",
                &[
                    "Teapots",
                    "Kettles",
                    "Coffee grinders",
                    "Cafetieres",
                    "Mugs",
                ],
            ),
            (
                "Tableware",
                &["Plates", "Bowls", "Glasses", "Cutlery", "Serving dishes"],
            ),
            (
                "Kitchen tools",
                &[
                    "Cutting boards",
                    "Knives",
                    "Utensils",
                    "Scales",
                    "Storage jars",
                ],
            ),
            (
                "Bedding",
                &["Duvets", "Pillows", "Sheets", "Blankets", "Throws"],
            ),
            (
                "Lighting",
                &[
                    "Table lamps",
                    "Floor lamps",
                    "Pendants",
                    "String lights",
                    "Candles",
                ],
            ),
            (
                "Decor",
                &[
                    "Vases",
                    "Clocks",
                    "Mirrors",
                    "Picture frames",
                    "Cushions",
                    "Plant pots",
                ],
            ),
        ],
    ),
    (
        "Garden and outdoors",
        &[
            (
                "Plants and seeds",
                &["Houseplants", "Planters", "Seeds", "Bulbs", "Compost"],
            ),
            (
                "Garden tools",
                &["Spades", "Pruners", "Rakes", "Hoses", "Gloves"],
            ),
            (
                "Garden furniture",
                &["Benches", "Loungers", "Parasols", "Tables", "Hammocks"],
            ),
            (
                "Camping",
                &[
                    "Tents",
                    "Sleeping bags",
                    "Stoves",
                    "Lanterns",
                    "Camp chairs",
                    "Cool boxes",
                ],
            ),
            (
                "Barbecues",
                &["Charcoal grills", "Gas grills", "Smokers", "Tools", "Fuel"],
            ),
            (
                "Wildlife",
                &[
                    "Bird feeders",
                    "Bird houses",
                    "Bird baths",
                    "Insect hotels",
                    "Seed mixes",
                ],
            ),
        ],
    ),
    (
        "Electronics",
        &[
            (
                "Audio",
                &["Headphones", "Earbuds", "Speakers", "Turntables", "Radios"],
            ),
            (
                "Computers",
                &[
                    "Laptops",
                    "Keyboards",
                    "Mice",
                    "Monitors",
                    "Docks",
                    "Laptop bags",
                ],
            ),
            (
                "Phones",
                &[
                    "Cases",
                    "Chargers",
                    "Cables",
                    "Power banks",
                    "Screen protectors",
                ],
            ),
            (
                "Cameras",
                &[
                    "Compact cameras",
                    "Lenses",
                    "Tripods",
                    "Memory cards",
                    "Camera bags",
                ],
            ),
            (
                "Smart home",
                &["Smart plugs", "Thermostats", "Doorbells", "Sensors", "Hubs"],
            ),
            (
                "Television",
                &[
                    "Televisions",
                    "Soundbars",
                    "Streaming sticks",
                    "Wall mounts",
                    "Remotes",
                ],
            ),
            (
                "Gaming",
                &[
                    "Controllers",
                    "Headsets",
                    "Consoles",
                    "Gaming chairs",
                    "Gift cards",
                ],
            ),
        ],
    ),
    (
        "Sports and fitness",
        &[
            (
                "Running",
                &[
                    "Running shoes",
                    "Jackets",
                    "Tights",
                    "Watches",
                    "Hydration packs",
                ],
            ),
            (
                "Cycling",
                &[
                    "Bicycle bells",
                    "Helmets",
                    "Bike lights",
                    "Locks",
                    "Panniers",
                    "Pumps",
                ],
            ),
            (
                "Yoga",
                &["Yoga mats", "Blocks", "Straps", "Bolsters", "Yoga wear"],
            ),
            (
                "Gym",
                &[
                    "Dumbbells",
                    "Kettlebells",
                    "Resistance bands",
                    "Benches",
                    "Skipping ropes",
                ],
            ),
            (
                "Swimming",
                &["Swimsuits", "Goggles", "Swim caps", "Towels", "Fins"],
            ),
            (
                "Team sports",
                &["Footballs", "Basketballs", "Shin guards", "Nets", "Bibs"],
            ),
            (
                "Hiking",
                &[
                    "Hiking boots",
                    "Backpacks",
                    "Trekking poles",
                    "Water bottles",
                    "Maps",
                    "Compasses",
                ],
            ),
        ],
    ),
    (
        "Beauty and health",
        &[
            (
                "Skin care",
                &[
                    "Cleansers",
                    "Moisturisers",
                    "Serums",
                    "Sun cream",
                    "Face masks",
                ],
            ),
            (
                "Hair care",
                &[
                    "Shampoo",
                    "Conditioner",
                    "Hair oils",
                    "Brushes",
                    "Hair dryers",
                ],
            ),
            (
                "Bath and body",
                &[
                    "Soaps",
                    "Body lotions",
                    "Bath salts",
                    "Shower gels",
                    "Sponges",
                ],
            ),
            (
                "Fragrance",
                &[
                    "Perfume",
                    "Eau de toilette",
                    "Scented candles",
                    "Diffusers",
                    "Gift sets",
                ],
            ),
            (
                "Oral care",
                &[
                    "Toothbrushes",
                    "Toothpaste",
                    "Floss",
                    "Mouthwash",
                    "Electric toothbrushes",
                ],
            ),
            (
                "Wellbeing",
                &[
                    "Vitamins",
                    "Massage oils",
                    "Sleep aids",
                    "Herbal teas",
                    "First aid",
                    "Hot water bottles",
                ],
            ),
        ],
    ),
    (
        "Books and stationery",
        &[
            (
                "Notebooks",
                &["Lined", "Dot grid", "Sketchbooks", "Journals", "Planners"],
            ),
            (
                "Writing",
                &["Fountain pens", "Ballpoints", "Pencils", "Ink", "Markers"],
            ),
            (
                "Desk accessories",
                &[
                    "Desk organizers",
                    "Desk lamps",
                    "Letter trays",
                    "Bookends",
                    "Pen pots",
                ],
            ),
            (
                "Art supplies",
                &[
                    "Paints",
                    "Brushes",
                    "Canvases",
                    "Easels",
                    "Pastels",
                    "Sketching pencils",
                ],
            ),
            (
                "Fiction",
                &[
                    "Novels",
                    "Crime",
                    "Science fiction",
                    "Poetry",
                    "Short stories",
                ],
            ),
            (
                "Non-fiction",
                &[
                    "Cookbooks",
                    "History",
                    "Travel guides",
                    "Biographies",
                    "Science",
                ],
            ),
            (
                "Cards and wrap",
                &[
                    "Greeting cards",
                    "Gift wrap",
                    "Ribbons",
                    "Envelopes",
                    "Stickers",
                ],
            ),
        ],
    ),
    (
        "Toys and kids",
        &[
            (
                "Baby",
                &["Rattles", "Teethers", "Play mats", "Mobiles", "Soft toys"],
            ),
            (
                "Building",
                &[
                    "Blocks",
                    "Construction sets",
                    "Marble runs",
                    "Magnetic tiles",
                    "Wooden trains",
                ],
            ),
            (
                "Games and puzzles",
                &[
                    "Board games",
                    "Jigsaw puzzles",
                    "Card games",
                    "Dominoes",
                    "Brain teasers",
                ],
            ),
            (
                "Outdoor play",
                &[
                    "Scooters",
                    "Kites",
                    "Sandpits",
                    "Swings",
                    "Balls",
                    "Water pistols",
                ],
            ),
            (
                "Arts and crafts",
                &[
                    "Crayons",
                    "Modelling clay",
                    "Craft kits",
                    "Stickers",
                    "Colouring books",
                ],
            ),
            (
                "Dress-up",
                &["Costumes", "Hats", "Masks", "Capes", "Face paints"],
            ),
            (
                "School",
                &[
                    "School bags",
                    "Lunch boxes",
                    "Pencil cases",
                    "Water bottles",
                    "Name labels",
                ],
            ),
        ],
    ),
];

/// A name as a slug part: lower-case ASCII letters and digits, words joined by single
/// hyphens ("Dress-up" -> "dress-up", "Tea and coffee" -> "tea-and-coffee").
pub(super) fn slugify(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_valid_unique_and_the_tree_has_its_shape() {
        let mut slugs = std::collections::BTreeSet::new();
        let mut leaves = 0;
        for (department, sections) in TREE {
            assert!((6..=8).contains(&sections.len()), "{department}");
            let top = slugify(department);
            assert!(slugs.insert(top.clone()));
            for (section, names) in *sections {
                assert!((5..=6).contains(&names.len()), "{section}");
                let middle = format!("{top}-{}", slugify(section));
                assert!(slugs.insert(middle.clone()));
                for name in *names {
                    assert!(
                        slugs.insert(format!("{middle}-{}", slugify(name))),
                        "{name}"
                    );
                    leaves += 1;
                }
            }
        }
        assert_eq!(TREE.len(), 8);
        assert!(leaves > 250, "{leaves}");
        for slug in &slugs {
            assert!(slug.len() <= 100);
            assert!(slug.split('-').all(|part| !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())));
        }
        assert_eq!(slugify("Tea and coffee"), "tea-and-coffee");
        assert_eq!(slugify("Dress-up"), "dress-up");
    }
}
