//! Word lists the generator picks from. Company stems are Microsoft's fictitious companies;
//! some names carry `'`, `&` or `.` on purpose, so clients' quoting and escaping get exercised.

pub(super) const FIRST_NAMES: &[&str] = &[
    "James",
    "Maria",
    "Wei",
    "Aisha",
    "Lukas",
    "Sofia",
    "Hiroshi",
    "Fatima",
    "Mateo",
    "Emma",
    "Noah",
    "Olivia",
    "Liam",
    "Ava",
    "Arjun",
    "Priya",
    "Chen",
    "Yuki",
    "Ahmed",
    "Elena",
    "Jonas",
    "Ingrid",
    "Pierre",
    "Camille",
    "Diego",
    "Lucia",
    "Kwame",
    "Amara",
    "Sven",
    "Freya",
    "Tomasz",
    "Zofia",
    "Oliver",
    "Charlotte",
    "Ethan",
    "Isla",
    "Mohammed",
    "Layla",
    "Daniel",
    "Hannah",
    "Samuel",
    "Grace",
    "Ravi",
    "Ananya",
    "Kenji",
    "Sakura",
    "Marco",
    "Giulia",
];

pub(super) const LAST_NAMES: &[&str] = &[
    "Smith",
    "Garcia",
    "Wang",
    "Khan",
    "Muller",
    "Rossi",
    "Tanaka",
    "Haddad",
    "Lopez",
    "Johnson",
    "Brown",
    "Williams",
    "Patel",
    "Sharma",
    "Li",
    "Sato",
    "Hassan",
    "Ivanova",
    "Schmidt",
    "Larsen",
    "Dubois",
    "Martin",
    "Fernandez",
    "Romero",
    "Mensah",
    "Okafor",
    "Andersson",
    "Nilsson",
    "Kowalski",
    "Nowak",
    "Taylor",
    "Wilson",
    "Davies",
    "Evans",
    "Ali",
    "Rahman",
    "Cohen",
    "Levi",
    "O'Brien",
    "Murphy",
    "Kumar",
    "Singh",
    "Nakamura",
    "Suzuki",
    "Bianchi",
    "Ricci",
    "Novak",
    "Horvat",
];

pub(super) const COMPANY_STEMS: &[&str] = &[
    "Contoso",
    "Fabrikam",
    "Litware",
    "Adventure Works",
    "Northwind",
    "Tailspin",
    "Wingtip",
    "Alpine Ski House",
    "Coho Winery",
    "Proseware",
    "Woodgrove",
    "Trey Research",
    "Fourth Coffee",
    "Blue Yonder",
    "Lucerne Publishing",
    "Margie's Travel",
    "Relecloud",
    "Wide World Importers",
    "Humongous Insurance",
    "VanArsdel",
    "Best For You Organics",
    "Southridge Video",
    "City Power & Light",
    "Consolidated Messenger",
    "A. Datum",
    "Munson's Pickles",
    "Nod Publishers",
    "Tailwind Traders",
    "Lamna Healthcare",
    "Graphic Design Institute",
    "First Up Consultants",
    "Bellows College",
];

pub(super) const SECTORS: &[&str] = &[
    "Logistics",
    "Software",
    "Manufacturing",
    "Consulting",
    "Foods",
    "Energy",
    "Health",
    "Capital",
    "Retail",
    "Labs",
    "Systems",
    "Media",
    "Motors",
    "Pharma",
    "Textiles",
    "Robotics",
];

pub(super) const LEGAL_FORMS: &[&str] = &[
    "Ltd", "Inc.", "GmbH", "LLC", "S.A.", "AB", "Pty Ltd", "plc", "Corp.", "B.V.", "K.K.", "SAS",
];

pub(super) const JOB_TITLES: &[&str] = &[
    "Chief Executive Officer",
    "Chief Financial Officer",
    "VP Sales",
    "Purchasing Manager",
    "IT Director",
    "Operations Manager",
    "Account Manager",
    "Procurement Specialist",
    "Office Manager",
    "Marketing Director",
    "Software Engineer",
    "Project Manager",
    "Sales Representative",
    "Customer Service Manager",
    "Head of Finance",
    "Data Analyst",
];

pub(super) const PRODUCTS: &[&str] = &[
    "Surface Laptops",
    "Dynamics 365 licenses",
    "Azure credits",
    "espresso machines",
    "forklift trucks",
    "solar panels",
    "ergonomic chairs",
    "3D printers",
    "delivery vans",
    "conference phones",
    "barcode scanners",
    "server racks",
];

pub(super) const CASE_TITLES: &[&str] = &[
    "Printer not responding",
    "Cannot sign in to the portal",
    "Invoice amount incorrect",
    "Delivery arrived damaged",
    "Request for product manual",
    "Password reset needed",
    "Order status inquiry",
    "Warranty claim",
    "Software crashes on start",
    "Billing address change",
    "Missing items in shipment",
    "Refund request",
    "Slow performance after update",
    "Unable to export report",
];

pub(super) const REGIONS: &[&str] = &[
    "North America",
    "EMEA",
    "APAC",
    "LATAM",
    "Nordics",
    "DACH",
    "UK & Ireland",
    "Benelux",
];

pub(super) const TEAM_FUNCTIONS: &[&str] = &[
    "Sales",
    "Service",
    "Marketing",
    "Finance",
    "Operations",
    "Research",
    "Support",
    "Partners",
];

pub(super) const CUSTOM_ROLES: &[&str] = &[
    "Salesperson",
    "Sales Manager",
    "Customer Service Representative",
    "CSR Manager",
    "Marketing Professional",
    "Data Importer",
    "Read-only Auditor",
    "Integration Service",
];

pub(super) const STREETS: &[&str] = &[
    "Main",
    "Oak",
    "Maple",
    "Cedar",
    "Pine",
    "Elm",
    "Lake",
    "Hill",
    "Park",
    "Washington",
    "Church",
    "Market",
    "High",
    "King",
    "Queen",
    "Station",
    "Mill",
    "Bridge",
    "River",
    "Harbor",
];

pub(super) const STREET_KINDS: &[&str] = &[
    "Street",
    "Avenue",
    "Road",
    "Lane",
    "Boulevard",
    "Way",
    "Drive",
    "Place",
];

pub(super) struct Currency {
    pub(super) code: &'static str,
    pub(super) name: &'static str,
    pub(super) symbol: &'static str,
    pub(super) precision: u8,
    /// Units per US dollar, the base currency.
    pub(super) rate: f64,
}

pub(super) const CURRENCIES: &[Currency] = &[
    Currency {
        code: "USD",
        name: "US Dollar",
        symbol: "$",
        precision: 2,
        rate: 1.0,
    },
    Currency {
        code: "EUR",
        name: "Euro",
        symbol: "€",
        precision: 2,
        rate: 0.92,
    },
    Currency {
        code: "GBP",
        name: "Pound Sterling",
        symbol: "£",
        precision: 2,
        rate: 0.79,
    },
    Currency {
        code: "JPY",
        name: "Yen",
        symbol: "¥",
        precision: 0,
        rate: 151.3,
    },
    Currency {
        code: "CAD",
        name: "Canadian Dollar",
        symbol: "CA$",
        precision: 2,
        rate: 1.36,
    },
    Currency {
        code: "AUD",
        name: "Australian Dollar",
        symbol: "A$",
        precision: 2,
        rate: 1.52,
    },
    Currency {
        code: "CHF",
        name: "Swiss Franc",
        symbol: "CHF",
        precision: 2,
        rate: 0.88,
    },
    Currency {
        code: "SEK",
        name: "Swedish Krona",
        symbol: "kr",
        precision: 2,
        rate: 10.4,
    },
    Currency {
        code: "INR",
        name: "Indian Rupee",
        symbol: "₹",
        precision: 2,
        rate: 83.2,
    },
    Currency {
        code: "BRL",
        name: "Brazilian Real",
        symbol: "R$",
        precision: 2,
        rate: 5.0,
    },
];

pub(super) struct City {
    pub(super) name: &'static str,
    pub(super) province: &'static str,
    pub(super) country: &'static str,
    pub(super) postal_code: &'static str,
    pub(super) latitude: f64,
    pub(super) longitude: f64,
    pub(super) calling_code: &'static str,
    pub(super) area_code: &'static str,
}

impl City {
    /// `+44 20 7946 0142`: a number in the city's format family.
    pub(super) fn phone(&self, hash: u64) -> String {
        format!(
            "{} {} {:03} {:04}",
            self.calling_code,
            self.area_code,
            200 + hash % 800,
            (hash >> 16) % 10_000
        )
    }
}

macro_rules! city {
    ($name:expr, $province:expr, $country:expr, $postal:expr, $lat:expr, $lon:expr, $calling:expr, $area:expr) => {
        City {
            name: $name,
            province: $province,
            country: $country,
            postal_code: $postal,
            latitude: $lat,
            longitude: $lon,
            calling_code: $calling,
            area_code: $area,
        }
    };
}

pub(super) const CITIES: &[City] = &[
    city!(
        "Seattle",
        "WA",
        "United States",
        "98101",
        47.6062,
        -122.3321,
        "+1",
        "206"
    ),
    city!(
        "Redmond",
        "WA",
        "United States",
        "98052",
        47.6740,
        -122.1215,
        "+1",
        "425"
    ),
    city!(
        "New York",
        "NY",
        "United States",
        "10001",
        40.7128,
        -74.0060,
        "+1",
        "212"
    ),
    city!(
        "Chicago",
        "IL",
        "United States",
        "60601",
        41.8781,
        -87.6298,
        "+1",
        "312"
    ),
    city!(
        "Austin",
        "TX",
        "United States",
        "73301",
        30.2672,
        -97.7431,
        "+1",
        "512"
    ),
    city!(
        "Toronto", "ON", "Canada", "M5H 2N2", 43.6532, -79.3832, "+1", "416"
    ),
    city!(
        "London",
        "England",
        "United Kingdom",
        "EC1A 1BB",
        51.5074,
        -0.1278,
        "+44",
        "20"
    ),
    city!(
        "Manchester",
        "England",
        "United Kingdom",
        "M1 1AE",
        53.4808,
        -2.2426,
        "+44",
        "161"
    ),
    city!(
        "Dublin", "Leinster", "Ireland", "D02 X285", 53.3498, -6.2603, "+353", "1"
    ),
    city!(
        "Paris",
        "Ile-de-France",
        "France",
        "75001",
        48.8566,
        2.3522,
        "+33",
        "1"
    ),
    city!(
        "Berlin", "Berlin", "Germany", "10115", 52.5200, 13.4050, "+49", "30"
    ),
    city!(
        "Munich", "Bavaria", "Germany", "80331", 48.1351, 11.5820, "+49", "89"
    ),
    city!(
        "Amsterdam",
        "North Holland",
        "Netherlands",
        "1012 AB",
        52.3676,
        4.9041,
        "+31",
        "20"
    ),
    city!(
        "Stockholm",
        "Stockholm",
        "Sweden",
        "111 20",
        59.3293,
        18.0686,
        "+46",
        "8"
    ),
    city!(
        "Madrid", "Madrid", "Spain", "28001", 40.4168, -3.7038, "+34", "91"
    ),
    city!(
        "Milan", "Lombardy", "Italy", "20121", 45.4642, 9.1900, "+39", "02"
    ),
    city!(
        "Zurich",
        "Zurich",
        "Switzerland",
        "8001",
        47.3769,
        8.5417,
        "+41",
        "44"
    ),
    city!(
        "Warsaw", "Masovia", "Poland", "00-001", 52.2297, 21.0122, "+48", "22"
    ),
    city!(
        "Tokyo", "Tokyo", "Japan", "100-0001", 35.6762, 139.6503, "+81", "3"
    ),
    city!(
        "Singapore",
        "",
        "Singapore",
        "018956",
        1.2903,
        103.8520,
        "+65",
        "6"
    ),
    city!(
        "Sydney",
        "NSW",
        "Australia",
        "2000",
        -33.8688,
        151.2093,
        "+61",
        "2"
    ),
    city!(
        "Melbourne",
        "VIC",
        "Australia",
        "3000",
        -37.8136,
        144.9631,
        "+61",
        "3"
    ),
    city!(
        "Auckland",
        "Auckland",
        "New Zealand",
        "1010",
        -36.8485,
        174.7633,
        "+64",
        "9"
    ),
    city!(
        "Sao Paulo",
        "SP",
        "Brazil",
        "01000-000",
        -23.5505,
        -46.6333,
        "+55",
        "11"
    ),
    city!(
        "Mexico City",
        "CDMX",
        "Mexico",
        "06000",
        19.4326,
        -99.1332,
        "+52",
        "55"
    ),
    city!(
        "Johannesburg",
        "Gauteng",
        "South Africa",
        "2001",
        -26.2041,
        28.0473,
        "+27",
        "11"
    ),
    city!(
        "Bangalore",
        "Karnataka",
        "India",
        "560001",
        12.9716,
        77.5946,
        "+91",
        "80"
    ),
    city!(
        "Dubai",
        "Dubai",
        "United Arab Emirates",
        "00000",
        25.2048,
        55.2708,
        "+971",
        "4"
    ),
];
