CodeSystem: WorService
Id: wor-service
Title: "Welzijn op Recept service"
Description: "The service a wor-bridge ServiceRequest asks for."
* ^url = "https://wor-bridge.nl/fhir/CodeSystem/wor-service"
* ^status = #active
* ^content = #complete
* ^caseSensitive = true
* #welzijn-op-recept "Welzijn op Recept" "Referral of a patient with psychosocial complaints to a welzijnscoach of the sociaal wijkteam."

ValueSet: WorServiceVS
Id: wor-service
Title: "Welzijn op Recept services"
Description: "All codes of the wor-service CodeSystem."
* ^url = "https://wor-bridge.nl/fhir/ValueSet/wor-service"
* ^status = #active
* include codes from system WorService

CodeSystem: WorArrangement
Id: wor-arrangement
Title: "Welzijn op Recept arrangements"
Description: "The six principles of positive health that Welzijn op Recept activities are chosen by (Trimbos-instituut)."
* ^url = "https://wor-bridge.nl/fhir/CodeSystem/wor-arrangement"
* ^status = #active
* ^content = #complete
* ^caseSensitive = true
* #positief-denken "Positief en optimistisch denken"
* #zingeving "Zingeving"
* #bewust-leven "Bewust leven en genieten"
* #interactie "Interactie met anderen"
* #gezonde-leefstijl "Gezonde leefstijl"
* #geluk-delen "Geluk delen"

ValueSet: WorArrangementVS
Id: wor-arrangement
Title: "Welzijn op Recept arrangements"
Description: "All codes of the wor-arrangement CodeSystem."
* ^url = "https://wor-bridge.nl/fhir/ValueSet/wor-arrangement"
* ^status = #active
* include codes from system WorArrangement

CodeSystem: WorBusinessStep
Id: wor-business-step
Title: "Welzijn op Recept task steps"
Description: "The steps of a Welzijn op Recept trajectory, recorded in Task.businessStatus by the coach system."
* ^url = "https://wor-bridge.nl/fhir/CodeSystem/wor-business-step"
* ^status = #active
* ^content = #complete
* ^caseSensitive = true
* #contact-made "Contact met patiënt gemaakt"
* #intake-held "Intakegesprek gehouden"
* #activity-started "Activiteit gestart"
* #patient-unreachable "Patiënt niet bereikt"
* #trajectory-completed "Traject afgerond"

ValueSet: WorBusinessStepVS
Id: wor-business-step
Title: "Welzijn op Recept task steps"
Description: "All codes of the wor-business-step CodeSystem."
* ^url = "https://wor-bridge.nl/fhir/ValueSet/wor-business-step"
* ^status = #active
* include codes from system WorBusinessStep

CodeSystem: WorFeedbackKind
Id: wor-feedback-kind
Title: "Welzijn op Recept feedback kinds"
Description: "The moments at which the GP hears back about a referral (terugkoppeling)."
* ^url = "https://wor-bridge.nl/fhir/CodeSystem/wor-feedback-kind"
* ^status = #active
* ^content = #complete
* ^caseSensitive = true
* #accepted "Verwijzing aangenomen"
* #rejected "Verwijzing niet aangenomen"
* #intake-report "Verslag van de welzijnscoach"
* #completed "Traject afgerond"
* #failed "Traject niet uitgevoerd"
* #pickup-deadline-missed "Verwijzing nog niet opgepakt"
* #contact-deadline-missed "Patiënt nog niet gesproken"
* #cancelled "Verwijzing ingetrokken"

ValueSet: WorFeedbackKindVS
Id: wor-feedback-kind
Title: "Welzijn op Recept feedback kinds"
Description: "All codes of the wor-feedback-kind CodeSystem."
* ^url = "https://wor-bridge.nl/fhir/ValueSet/wor-feedback-kind"
* ^status = #active
* include codes from system WorFeedbackKind
