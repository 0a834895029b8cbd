Extension: WorContactDeadline
Id: wor-contact-deadline
Title: "Contact deadline"
Description: "When the welzijnscoach must have contacted the patient (contactDeadlineDays working days after intake)."
* ^url = "https://wor-bridge.nl/fhir/StructureDefinition/wor-contact-deadline"
* ^context[+].type = #element
* ^context[=].expression = "Task"
* value[x] only dateTime
* valueDateTime 1..1

Extension: WorArrangementExtension
Id: wor-arrangement
Title: "Chosen arrangement"
Description: "An activity the coach and patient chose, coded by the Welzijn op Recept principle it serves."
* ^url = "https://wor-bridge.nl/fhir/StructureDefinition/wor-arrangement"
* ^context[+].type = #element
* ^context[=].expression = "Communication"
* value[x] only CodeableConcept
* valueCodeableConcept 1..1
* valueCodeableConcept from WorArrangementVS (required)
