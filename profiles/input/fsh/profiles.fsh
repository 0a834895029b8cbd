Profile: WorPatient
Parent: Patient
Id: wor-patient
Title: "WoR Patient"
Description: "The referred patient, identified by BSN (after nl-core-Patient). Several names with different use are allowed, as nl-core sends them (the official name, a usual call name); only the official one needs a family name."
* ^url = "https://wor-bridge.nl/fhir/StructureDefinition/wor-patient"
* obeys wor-pat-1
* identifier 1..*
* identifier ^slicing.discriminator.type = #value
* identifier ^slicing.discriminator.path = "system"
* identifier ^slicing.rules = #open
* identifier contains bsn 1..1
* identifier[bsn].system 1..1
* identifier[bsn].system = $bsn (exactly)
* identifier[bsn].value 1..1
* name 1..*
* birthDate 1..1
* address 1..*
* address.postalCode 1..1

Profile: WorPractitioner
Parent: Practitioner
Id: wor-practitioner
Title: "WoR Practitioner"
Description: "The referring GP or praktijkondersteuner, identified by AGB, BIG or UZI (after nl-core-HealthProfessional)."
* ^url = "https://wor-bridge.nl/fhir/StructureDefinition/wor-practitioner"
* obeys wor-prac-1
* identifier 1..*
* identifier ^slicing.discriminator.type = #value
* identifier ^slicing.discriminator.path = "system"
* identifier ^slicing.rules = #open
* identifier contains agb 0..1 and big 0..1 and uzi 0..1
* identifier[agb].system = $agb (exactly)
* identifier[agb].value 1..1
* identifier[big].system = $big (exactly)
* identifier[big].value 1..1
* identifier[uzi].system = $uzi (exactly)
* identifier[uzi].value 1..1

Profile: WorPractitionerRole
Parent: PractitionerRole
Id: wor-practitioner-role
Title: "WoR PractitionerRole"
Description: "The referrer in their practice, with the UZI role code (e.g. 01.015 huisarts) in code or, as nl-core-HealthProfessional-PractitionerRole puts it, in specialty."
* ^url = "https://wor-bridge.nl/fhir/StructureDefinition/wor-practitioner-role"
* obeys wor-role-1
* practitioner 1..1
* practitioner only Reference(Practitioner)
* organization 1..1
* organization only Reference(Organization)

Profile: WorPracticeOrganization
Parent: Organization
Id: wor-practice-organization
Title: "WoR GP practice"
Description: "A GP practice, identified by its AGB code (after nl-core-HealthcareProvider-Organization)."
* ^url = "https://wor-bridge.nl/fhir/StructureDefinition/wor-practice-organization"
* identifier 1..*
* identifier ^slicing.discriminator.type = #value
* identifier ^slicing.discriminator.path = "system"
* identifier ^slicing.rules = #open
* identifier contains agb 1..1 and ura 0..1
* identifier[agb].system = $agb (exactly)
* identifier[agb].value 1..1
* identifier[ura].system = $ura (exactly)
* identifier[ura].value 1..1
* name 1..1

Profile: WorTeamOrganization
Parent: Organization
Id: wor-team-organization
Title: "WoR sociaal wijkteam"
Description: "A sociaal wijkteam of a municipality, identified by its team id in the directory."
* ^url = "https://wor-bridge.nl/fhir/StructureDefinition/wor-team-organization"
* identifier 1..*
* identifier ^slicing.discriminator.type = #value
* identifier ^slicing.discriminator.path = "system"
* identifier ^slicing.rules = #open
* identifier contains team 1..1
* identifier[team].system = $team (exactly)
* identifier[team].value 1..1
* name 1..1

Profile: WorConsent
Parent: Consent
Id: wor-consent
Title: "WoR consent to share with the social domain"
Description: "The patient's consent that the referral goes to the sociaal wijkteam."
* ^url = "https://wor-bridge.nl/fhir/StructureDefinition/wor-consent"
* scope = $consentScope#patient-privacy
* category 1..*
* patient 1..1
* patient only Reference(Patient)
* dateTime 1..1
* policyRule 1..1
* provision 1..1
* provision.type 1..1
* provision.type = #permit

Profile: WorServiceRequest
Parent: ServiceRequest
Id: wor-service-request
Title: "WoR referral"
Description: "A Welzijn op Recept referral from a GP to a sociaal wijkteam."
* ^url = "https://wor-bridge.nl/fhir/StructureDefinition/wor-service-request"
* identifier 1..*
* identifier.system 1..1
* identifier.value 1..1
* intent = #order
* code 1..1
* code = WorService#welzijn-op-recept
* priority 1..1
* priority from WorReferralPriority (required)
* subject only Reference(Patient)
* authoredOn 1..1
* requester 1..1
* requester only Reference(PractitionerRole)
* performer 1..1
* performer only Reference(Organization)
* reasonCode 1..*
* supportingInfo 1..*

ValueSet: WorReferralPriority
Id: wor-referral-priority
Title: "WoR referral priority"
Description: "A referral is routine or urgent."
* ^url = "https://wor-bridge.nl/fhir/ValueSet/wor-referral-priority"
* ^status = #active
* http://hl7.org/fhir/request-priority#routine
* http://hl7.org/fhir/request-priority#urgent

Profile: WorTask
Parent: Task
Id: wor-task
Title: "WoR task for the sociaal wijkteam"
Description: "The work a Welzijn op Recept referral asks of a team: on the team's queue until accepted."
* ^url = "https://wor-bridge.nl/fhir/StructureDefinition/wor-task"
* extension contains WorContactDeadline named contactDeadline 0..1
* intent = #order
* code 1..1
* code = $taskCode#fulfill
* priority 1..1
* priority from WorReferralPriority (required)
* basedOn 1..1
* basedOn only Reference(ServiceRequest)
* focus 1..1
* focus only Reference(ServiceRequest)
* for 1..1
* for only Reference(Patient)
* authoredOn 1..1
* requester only Reference(PractitionerRole)
* owner 1..1
* owner only Reference(Organization)
* owner.identifier 1..1
* owner.identifier.system = $team (exactly)
* owner.identifier.value 1..1
* restriction 1..1
* restriction.period 1..1
* restriction.period.end 1..1
* businessStatus from WorBusinessStepVS (extensible)

Profile: WorCommunication
Parent: Communication
Id: wor-communication
Title: "WoR feedback to the GP"
Description: "Terugkoppeling: a letter from the sociaal wijkteam to the referring GP, with the coded facts. As stored here its references are literal; as delivered to a GP system they are logical (an identifier the GP system knows, with a display), with the absolute URL here only for receivers that accept external references."
* ^url = "https://wor-bridge.nl/fhir/StructureDefinition/wor-communication"
* extension contains WorArrangementExtension named arrangement 0..*
* identifier 1..*
* identifier.value 1..1
* identifier ^slicing.discriminator.type = #value
* identifier ^slicing.discriminator.path = "system"
* identifier ^slicing.rules = #open
* identifier ^slicing.description = "The service's own identifier (every Communication it emits carries one), beside a coach system's own for its reports"
* identifier contains wor 0..1
* identifier[wor].system 1..1
* identifier[wor].system = $communicationId (exactly)
* basedOn 1..*
* basedOn only Reference(ServiceRequest)
* basedOn obeys wor-reference
* status = #completed
* category 1..1
* category from WorFeedbackKindVS (required)
* subject 1..1
* subject only Reference(Patient)
* subject obeys wor-reference
* about only Reference(Task)
* about obeys wor-reference
* sent 1..1
* sender 1..1
* sender only Reference(Organization)
* sender obeys wor-reference
* recipient 1..*
* recipient only Reference(PractitionerRole or Practitioner or Organization)
* recipient obeys wor-reference
* payload 1..*

Invariant: wor-reference
Description: "A reference names its target: literally (reference) or logically (identifier)."
Expression: "reference.exists() or identifier.exists()"
Severity: #error

Profile: WorAuditEvent
Parent: AuditEvent
Id: wor-audit-event
Title: "WoR access to patient data (NEN 7513)"
Description: "One access to patient data: event, time, patient, user (client) and responsible organisation."
* ^url = "https://wor-bridge.nl/fhir/StructureDefinition/wor-audit-event"
* action 1..1
* outcome 1..1
* agent 2..*
* agent.who 1..1
* agent.who.identifier 1..1
* entity 1..*
* entity.what 1..1

Profile: WorDocumentReference
Parent: DocumentReference
Id: wor-document-reference
Title: "WoR referral letter or supplement"
Description: "A document a referral portal sent with a referral (the referral letter, a supplement), kept for the team."
* ^url = "https://wor-bridge.nl/fhir/StructureDefinition/wor-document-reference"
* status = #current
* subject 1..1
* subject only Reference(Patient)
* date 1..1
* content 1..*
* content.attachment.contentType 1..1
* content.attachment.data 1..1
* content.attachment.size 1..1
* content.attachment.hash 1..1
* context 1..1
* context.related 1..*
* context.related only Reference(ServiceRequest)

Invariant: wor-pat-1
Description: "The official name has a family name."
Severity: #error
Expression: "name.where(use = 'official').all(family.exists())"

Invariant: wor-prac-1
Description: "The practitioner is identified by AGB, BIG or UZI."
Severity: #error
Expression: "identifier.where(system = 'http://fhir.nl/fhir/NamingSystem/agb-z' or system = 'http://fhir.nl/fhir/NamingSystem/big' or system = 'http://fhir.nl/fhir/NamingSystem/uzi-nr-pers').exists()"

Invariant: wor-role-1
Description: "The role carries a UZI role code, in code or in specialty."
Severity: #error
Expression: "(code | specialty).coding.where(system = 'http://fhir.nl/fhir/NamingSystem/uzi-rolcode' or system = 'urn:oid:2.16.840.1.113883.2.4.15.111').exists()"
