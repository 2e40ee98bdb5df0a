"""Word lists the demo generator draws from: companies, people, places, hardware, MSP life."""
from __future__ import annotations

VENDOR_NAMES = {
    "connectwise": "ConnectWise Manage",
    "autotask": "Autotask",
    "halopsa": "HaloPSA",
    "atera": "Atera",
    "ninjaone": "NinjaOne",
    "ncentral": "N-able N-central",
    "kaseya_vsax": "Kaseya VSA X",
    "datto_bcdr": "Datto BCDR",
}
PSA_VENDORS = ("connectwise", "autotask", "halopsa", "atera")
RMM_VENDORS = ("ninjaone", "ncentral", "kaseya_vsax")
BACKUP_VENDOR = "datto_bcdr"
TENANT_VENDORS = {
    "acme": ("connectwise", "ninjaone", "datto_bcdr"),
    "northwind": ("autotask", "ncentral", "datto_bcdr"),
}

OPERATORS = {
    "admin": ("Alex", "Morgan"),
    "technician": ("Sam", "Rivera"),
}

COMPANY_PREFIXES = (
    "Blue Ridge", "Summit", "Harbor", "Cedar", "Pinnacle", "Lakeside", "Ironwood", "Redwood",
    "Granite", "Silver Creek", "Maple", "Prairie", "Riverbend", "Oakmont", "Coastal", "Northgate",
    "Sterling", "Evergreen", "Keystone", "Liberty", "Heritage", "Meridian", "Westfield",
    "Bayview", "Clearwater", "Highland", "Stonebridge", "Willow", "Copper Canyon", "Frontier",
    "Golden Gate", "Magnolia", "Beacon", "Falcon", "Pioneer", "Sunrise", "Tri-County", "Unity",
    "Valley", "Crescent", "Bluebonnet", "Pine Hill", "Rocky Mountain", "Gulf Coast", "Lone Star",
    "Red Rock", "Twin Lakes", "Brookside", "Hillcrest", "Foxhall",
)
COMPANY_TRADES = (
    "Dental", "Family Medicine", "Law Group", "Accounting", "Logistics", "Construction",
    "Realty", "Veterinary Clinic", "Manufacturing", "Insurance Agency", "Architects",
    "Engineering", "Credit Union", "Orthodontics", "Physical Therapy", "Title Company",
    "Wealth Management", "Landscaping", "Plumbing & Heating", "Auto Group", "Property Management",
    "Surveying", "Dermatology", "Eye Care", "Pediatrics", "Home Health", "Distributors",
    "Machine Works", "Foods", "Brewing Company", "Nonprofit Alliance", "Academy", "Church",
    "Chiropractic", "CPA Partners", "Marine Supply",
)
COMPANY_SUFFIXES = ("", "", "", "LLC", "Inc.", "Group", "& Associates", "Co.", "PLLC", "Partners")

# (city, state, area code, first three digits of the ZIP code)
CITIES = (
    ("Austin", "TX", "512", "787"), ("Dallas", "TX", "214", "752"), ("Houston", "TX", "713", "770"),
    ("San Antonio", "TX", "210", "782"), ("Denver", "CO", "303", "802"),
    ("Boulder", "CO", "303", "803"), ("Phoenix", "AZ", "602", "850"),
    ("Tucson", "AZ", "520", "857"), ("Salt Lake City", "UT", "801", "841"),
    ("Boise", "ID", "208", "837"), ("Portland", "OR", "503", "972"),
    ("Seattle", "WA", "206", "981"), ("Spokane", "WA", "509", "992"),
    ("Sacramento", "CA", "916", "958"), ("San Diego", "CA", "619", "921"),
    ("Fresno", "CA", "559", "937"), ("Las Vegas", "NV", "702", "891"),
    ("Omaha", "NE", "402", "681"), ("Kansas City", "MO", "816", "641"),
    ("St. Louis", "MO", "314", "631"), ("Minneapolis", "MN", "612", "554"),
    ("Madison", "WI", "608", "537"), ("Milwaukee", "WI", "414", "532"),
    ("Chicago", "IL", "312", "606"), ("Indianapolis", "IN", "317", "462"),
    ("Columbus", "OH", "614", "432"), ("Cleveland", "OH", "216", "441"),
    ("Pittsburgh", "PA", "412", "152"), ("Philadelphia", "PA", "215", "191"),
    ("Baltimore", "MD", "410", "212"), ("Richmond", "VA", "804", "232"),
    ("Raleigh", "NC", "919", "276"), ("Charlotte", "NC", "704", "282"),
    ("Charleston", "SC", "843", "294"), ("Atlanta", "GA", "404", "303"),
    ("Nashville", "TN", "615", "372"), ("Louisville", "KY", "502", "402"),
    ("Tampa", "FL", "813", "336"), ("Orlando", "FL", "407", "328"),
    ("Jacksonville", "FL", "904", "322"), ("Albany", "NY", "518", "122"),
    ("Hartford", "CT", "860", "061"), ("Portland", "ME", "207", "041"),
    ("Burlington", "VT", "802", "054"), ("Albuquerque", "NM", "505", "871"),
)
STREET_NAMES = (
    "Main", "Oak", "Commerce", "Industrial", "Park", "Lakeview", "Washington", "Lincoln",
    "Jefferson", "Market", "Mill", "Church", "River", "Highland", "Sunset", "Ridge", "Elm",
    "Cedar", "Madison", "Franklin", "Airport", "Technology", "Corporate", "Meadow",
)
STREET_TYPES = ("St", "Ave", "Blvd", "Dr", "Rd", "Pkwy", "Way", "Ct")
STREET_UNITS = ("", "", "", " Suite 100", " Suite 210", " Suite 300", " Unit B", " Floor 2")
SITE_NAMES = ("Warehouse", "Branch Office", "Clinic", "Plant", "Annex", "Satellite Office")

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark",
    "Ashley", "Steven", "Emily", "Andrew", "Michelle", "Joshua", "Amanda", "Kevin", "Melissa",
    "Brian", "Stephanie", "Priya", "Rebecca", "Tyler", "Laura", "Jorge", "Megan", "Wei",
    "Rachel", "Nathan", "Olivia", "Marcus", "Hannah", "Diego", "Grace", "Omar", "Chloe",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Patel",
    "Campbell", "Mitchell", "Carter", "Roberts", "Chen", "Kim", "Okafor", "Schmidt", "Novak",
)
JOB_TITLES = (
    "Office Manager", "Operations Manager", "Controller", "Practice Administrator", "Owner",
    "CEO", "CFO", "Managing Partner", "HR Manager", "Bookkeeper", "Front Desk Coordinator",
    "Project Manager", "IT Coordinator", "Paralegal", "Executive Assistant", "Sales Manager",
)
PRIMARY_TITLES = ("Office Manager", "Operations Manager", "Owner", "IT Coordinator", "Controller")

# Ticket topics: (subject, first message, priority, resolution). Placeholders: {server},
# {person}, {floor}, {app}, {ws}.
TICKET_TOPICS = (
    ("Outlook keeps asking for password",
     "Since this morning Outlook pops up a password prompt every few minutes, even after I type "
     "it in. Webmail works fine.", "medium",
     "Cleared the cached credentials in Credential Manager and rebuilt the Outlook profile; "
     "modern authentication is working again."),
    ("VPN disconnects every 10 minutes",
     "When I work from home the VPN drops every 10 minutes or so and I lose my mapped drives.",
     "medium",
     "Updated the VPN client and raised the DPD timeout on the firewall; connection has been "
     "stable for two days."),
    ("New hire onboarding: {person}",
     "{person} starts Monday. Please create an account, a mailbox and a laptop with the usual "
     "apps, same access as the rest of the team.", "medium",
     "Account, mailbox and licence created; laptop imaged and delivered with MFA enrolled."),
    ("Offboarding: {person}",
     "{person}'s last day is Friday. Please disable the account at 5pm and forward e-mail to "
     "their manager.", "medium",
     "Account disabled, mailbox converted to shared and forwarded, licence reclaimed."),
    ("Printer on {floor} floor offline",
     "The printer on the {floor} floor shows offline for everyone. We power-cycled it already.",
     "medium",
     "The printer had picked up a new DHCP address; set a reservation and re-added the queue."),
    ("Server disk C: below 10% on {server}",
     "Monitoring flagged low free space on C: of {server}.", "high",
     "Cleaned up WinSxS and old IIS logs and moved the page file; 38% free now."),
    ("{app} is very slow",
     "{app} takes minutes to open and freezes when we save. It started after lunch.", "medium",
     "The database was being scanned by antivirus; added the recommended exclusions."),
    ("Cannot access shared drive",
     "I get 'access denied' on the S: drive since yesterday. I need the Finance folder.",
     "medium", "Added the user to the Finance security group; access confirmed."),
    ("Request: install {app} on {ws}",
     "Can you please install {app} on {ws}? Our manager approved it.", "low",
     "Installed and licensed; the user confirmed it opens."),
    ("Wi-Fi drops in conference room",
     "Wireless keeps dropping in the big conference room during video calls.", "medium",
     "Moved the conference room AP to a less congested channel and updated its firmware."),
    ("Phishing e-mail received - please check",
     "I got an e-mail asking me to re-validate my mailbox. I did not click anything. Is it safe?",
     "high", "Confirmed phishing; purged the message tenant-wide and blocked the sender domain."),
    ("Laptop won't boot after update",
     "My laptop ({ws}) is stuck on 'Preparing automatic repair' after last night's update.",
     "high", "Rolled back the update from WinRE and paused it until the fix is released."),
    ("MFA: new phone, need to re-register",
     "I got a new phone and the authenticator app is empty. I can't sign in.", "medium",
     "Verified identity by phone and reset the MFA methods; user re-enrolled."),
    ("Scanner to e-mail not working",
     "Scan to e-mail on the copier fails with an SMTP error.", "low",
     "Switched the copier to the SMTP relay connector; scans are delivered again."),
    ("Backup failed on {server}",
     "Backup alert: last night's image backup of {server} failed.", "high",
     "Restarted the VSS writers and re-ran the backup; it completed successfully."),
    ("Teams meetings freeze",
     "Video freezes in every Teams meeting since Tuesday. Audio is fine.", "medium",
     "Disabled GPU hardware acceleration and updated the display driver."),
    ("Password reset for {person}",
     "{person} is locked out after too many attempts. Please reset.", "low",
     "Unlocked the account and sent a temporary password by phone."),
    ("Quote request: replacement for {ws}",
     "{ws} is getting old and slow. Can you send a quote for a replacement?", "low",
     "Quote sent for a Dell Latitude 7450 with 3-year ProSupport; approved and ordered."),
    ("{server} unreachable",
     "Nobody can open files or the line-of-business app. {server} seems down.", "critical",
     "The host had rebooted after a power blip and was stuck at the BIOS; replaced the CMOS "
     "battery and moved it onto the UPS."),
    ("Shared mailbox not showing in Outlook",
     "The info@ shared mailbox disappeared from my Outlook folder list.", "low",
     "Re-applied the full-access permission with automapping."),
    ("Internet down at main office",
     "The whole office lost internet about 15 minutes ago.", "critical",
     "ISP outage confirmed; failover to the LTE backup line worked; primary restored by the "
     "carrier."),
    ("Certificate expiring on {server}",
     "The SSL certificate on {server} expires soon according to monitoring.", "medium",
     "Renewed the certificate and bound it in IIS; checked the chain externally."),
)
REQUESTER_REPLIES = (
    "Thanks, I just tried again and it still happens.",
    "Yes, you can remote in now. I'll leave the laptop on.",
    "I'm in meetings until 2pm, can we do it after that?",
    "That seems to have fixed it, thank you!",
    "It happened again this morning around 9.",
    "Attached is a screenshot of the error.",
    "My manager approved it, please go ahead.",
    "Still waiting on this, it is blocking the team.",
)
TECHNICIAN_REPLIES = (
    "Thanks for reporting this. I'm looking into it now.",
    "Could you let me know a good time for a remote session?",
    "I've applied a fix on our side. Can you try again and let me know?",
    "I've escalated this to our senior engineer and will update you this afternoon.",
    "Can you send a screenshot of the exact error message?",
    "We need to order a part; I'll update you once it arrives.",
    "Please restart your computer when convenient and check again.",
)
INTERNAL_NOTES = (
    "Checked the event logs, nothing obvious. Next step: remote session.",
    "Same issue as last month - see previous ticket. Consider a permanent fix.",
    "Customer is on the Essentials plan; this is billable project work.",
    "Vendor support case opened, waiting for their reply.",
    "Escalating to tier 2, it looks like a licensing problem.",
)
APPS = ("QuickBooks", "Dentrix", "Clio", "Adobe Acrobat", "Sage 100", "AutoCAD", "Zoom",
        "Microsoft Teams", "Excel", "Bluebeam Revu", "Eaglesoft", "Procore")
FLOORS = ("1st", "2nd", "3rd", "4th")

# Alert templates by asset kind: (severity, title, message); {name} is the asset's host name.
ALERTS_BY_KIND = {
    "server": (
        ("critical", "Disk usage above 90% on {name}", "Volume C: on {name} is 93% full."),
        ("major", "Service stopped on {name}", "Windows service 'Print Spooler' stopped on {name}."),
        ("critical", "{name} is offline", "{name} has not checked in for 10 minutes."),
        ("moderate", "CPU above 95% for 15 minutes on {name}", "Sustained CPU load on {name}."),
        ("major", "RAID array degraded on {name}", "Virtual disk 0 on {name} is degraded."),
        ("minor", "Pending reboot on {name}", "{name} needs a reboot to finish patching."),
        ("moderate", "Certificate expires in 14 days on {name}", "A TLS certificate on {name} "
         "expires soon."),
    ),
    "workstation": (
        ("major", "Antivirus threat detected on {name}", "Threat quarantined on {name}."),
        ("moderate", "Disk usage above 90% on {name}", "Drive C: on {name} is 91% full."),
        ("minor", "Patch installation failed on {name}", "A cumulative update failed on {name}."),
        ("info", "New software installed on {name}", "A new application was installed on {name}."),
    ),
    "network": (
        ("critical", "{name} is offline", "{name} stopped responding to ping and SNMP."),
        ("major", "Interface down on {name}", "Uplink port 24 on {name} changed state to down."),
        ("moderate", "High packet loss on {name}", "Packet loss above 5% on {name} WAN link."),
    ),
    "printer": (
        ("minor", "Toner low on {name}", "Black toner on {name} below 10%."),
        ("info", "Paper jam on {name}", "{name} reported a paper jam in tray 2."),
    ),
}
ALERTS_BY_KIND["laptop"] = ALERTS_BY_KIND["workstation"]
ALERTS_BY_KIND["virtual_machine"] = ALERTS_BY_KIND["server"]
ALERTS_BY_KIND["mobile"] = (("minor", "{name} not compliant", "{name} is missing a passcode."),)

SERVER_ROLES = ("DC01", "FS01", "SQL01", "APP01", "RDS01", "DC02", "PRINT01", "WEB01", "ERP01")
# (manufacturer, model, serial style, cpu choices, ram choices, disk choices)
HARDWARE = {
    "server": (
        ("Dell", "PowerEdge R650", "dell", ("Intel Xeon Silver 4314",), (64, 128), (1920, 3840)),
        ("Dell", "PowerEdge T350", "dell", ("Intel Xeon E-2336",), (32, 64), (960, 1920)),
        ("HP", "ProLiant DL380 Gen10", "hp", ("Intel Xeon Gold 5218",), (64, 128, 256),
         (2400, 4800)),
        ("Lenovo", "ThinkSystem SR630 V2", "lenovo", ("Intel Xeon Silver 4310",), (64, 128),
         (1920,)),
    ),
    "virtual_machine": (
        ("Microsoft Corporation", "Virtual Machine", "vm", ("Virtual CPU x4", "Virtual CPU x8"),
         (8, 16, 32), (127, 256, 512)),
        ("VMware, Inc.", "VMware Virtual Platform", "vm", ("Virtual CPU x4",), (8, 16),
         (100, 200)),
    ),
    "workstation": (
        ("Dell", "OptiPlex 7010", "dell", ("Intel Core i5-13500",), (16,), (256, 512)),
        ("HP", "EliteDesk 800 G6", "hp", ("Intel Core i5-10500",), (8, 16), (256,)),
        ("Lenovo", "ThinkCentre M70q Gen 3", "lenovo", ("Intel Core i5-12400T",), (16,), (512,)),
    ),
    "laptop": (
        ("Dell", "Latitude 5440", "dell", ("Intel Core i5-1345U",), (16,), (256, 512)),
        ("HP", "EliteBook 840 G9", "hp", ("Intel Core i7-1255U",), (16, 32), (512,)),
        ("Lenovo", "ThinkPad T14 Gen 4", "lenovo", ("Intel Core i7-1365U",), (16, 32), (512,)),
        ("Apple", "MacBook Air (M2, 2022)", "apple", ("Apple M2",), (8, 16), (256, 512)),
        ("Apple", "MacBook Pro 14 (M3)", "apple", ("Apple M3 Pro",), (18, 36), (512, 1024)),
    ),
    "network": (
        ("Fortinet", "FortiGate 60F", "forti", ("ARM SoC",), (2,), (0,)),
        ("Ubiquiti", "UniFi Switch Pro 24 PoE", "ubnt", ("ARM SoC",), (1,), (0,)),
        ("Meraki", "MR36 Access Point", "meraki", ("ARM SoC",), (1,), (0,)),
    ),
    "printer": (
        ("HP", "Color LaserJet Pro MFP M479fdw", "hp", ("ARM SoC",), (1,), (0,)),
        ("Brother", "MFC-L8900CDW", "brother", ("ARM SoC",), (1,), (0,)),
    ),
    "mobile": (
        ("Apple", "iPhone 15", "apple", ("Apple A16 Bionic",), (6,), (128,)),
        ("Samsung", "Galaxy S23", "samsung", ("Snapdragon 8 Gen 2",), (8,), (256,)),
    ),
}
NETWORK_NAMES = ("FW01", "SW01", "SW02", "AP01", "AP02", "AP03")
# (name, version, build) by asset kind
OPERATING_SYSTEMS = {
    "server": (("Windows Server 2022 Standard", "21H2", "20348.2340"),
               ("Windows Server 2019 Standard", "1809", "17763.5458"),
               ("Ubuntu 22.04 LTS", "22.04", "5.15.0-101-generic")),
    "workstation": (("Windows 11 Pro", "23H2", "22631.3296"),
                    ("Windows 10 Pro", "22H2", "19045.4170")),
    "laptop": (("Windows 11 Pro", "23H2", "22631.3296"), ("Windows 11 Pro", "22H2", "22621.3155")),
    "mac": (("macOS Sonoma", "14.4", "23E214"), ("macOS Ventura", "13.6", "22G120")),
    "network": (("FortiOS", "7.2.7", "build1577"), ("UniFi OS", "3.2.9", "3.2.9.14426")),
    "printer": (("Printer firmware", "5.7", "2407081"),),
    "mobile": (("iOS", "17.4", "21E219"), ("Android", "14", "UP1A.231005.007")),
}
OPERATING_SYSTEMS["virtual_machine"] = OPERATING_SYSTEMS["server"]

BACKUP_ERRORS = (
    "VSS snapshot failed (0x80042306)",
    "Agent communication timeout",
    "Insufficient free space on the local appliance",
    "Backup chain broken; a new full backup is required",
    "Authentication to Microsoft 365 failed; reauthorize the connector",
)
BACKUP_WARNINGS = (
    "Screenshot verification failed",
    "Backup completed with skipped files (locked by another process)",
    "Offsite synchronisation is more than 48 hours behind",
)

MANAGED_PLANS = (("Essentials", 95.0), ("Professional", 135.0), ("Premium", 175.0))
PROJECTS = ("Microsoft 365 Migration", "Server Refresh", "Firewall Replacement",
            "Wi-Fi Upgrade", "Office Move", "Windows 11 Rollout")
HARDWARE_SALES = (("Dell Latitude 5440 laptop", 1249.0), ("Dell OptiPlex 7010 desktop", 989.0),
                  ("Ubiquiti U6 Pro access point", 179.0), ("APC Smart-UPS 1500", 829.0))
LICENCE_LINE = ("Microsoft 365 Business Premium", 22.0)

NOTE_TEMPLATES = {
    "ticket": (
        "Called {contact} about \"{subject}\"; they'll confirm tomorrow.",
        "Follow-up on \"{subject}\": this keeps recurring, propose a permanent fix at the QBR.",
        "\"{subject}\" is billable outside the agreement; {contact} approved the hours.",
    ),
    "alert": (
        "\"{title}\" - investigated, known issue, vendor patch scheduled for the weekend.",
        "Alert \"{title}\" keeps flapping; tuning the threshold next week.",
    ),
    "asset": (
        "{name} is out of warranty soon; replacement quote sent to {contact}.",
        "{name} moved to the new rack; re-labelled and updated the network diagram.",
    ),
    None: (
        "Quarterly business review held with {contact}; roadmap agreed for next quarter.",
        "{contact} asked about adding five seats in the spring.",
        "Renewal discussion started; customer happy with response times.",
    ),
}
